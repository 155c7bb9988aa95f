//! The examples' logger: the library reports progress through the `log` facade; this prints
//! burn-snn's `info` records and every crate's warnings and errors to stderr, one line per
//! record (burn-train logs every iteration at `info`).

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
            || (metadata.level() <= log::Level::Info && metadata.target().starts_with("burn_snn"))
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            match record.level() {
                log::Level::Info => eprintln!("{}", record.args()),
                level => eprintln!("{level}: {}", record.args()),
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls do nothing).
pub fn init() {
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
