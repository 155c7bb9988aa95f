//! Finding the data sets: an explicit directory, the cache, or (feature `download`) the
//! official sources.
//!
//! Resolution order for [`fashion_mnist_dir`] and [`nmnist_dir`]:
//! 1. an explicit directory (offline use): it must hold the files, else an error naming them;
//! 2. the cache, `$BURN_SNN_CACHE/<name>` or else `<user cache dir>/burn-snn/<name>`
//!    (`~/.cache/burn-snn` on Linux);
//! 3. with the `download` feature (on by default), the official files are fetched into the
//!    cache with a progress bar, their MD5 checked, and N-MNIST's zips unpacked; without it,
//!    an error that names the URLs and the expected layout.

use super::{DataError, IDX_FILES};
use std::path::{Path, PathBuf};

/// A file of an official distribution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Remote {
    /// File name in the cache.
    pub name: &'static str,
    /// URLs to try, in order.
    pub urls: &'static [&'static str],
    /// MD5 of the file, lower-case hex.
    pub md5: &'static str,
}

/// Fashion-MNIST's four files (Zalando's official mirror; MD5s from its README).
pub(crate) const FASHION_MNIST: [Remote; 4] = [
    Remote {
        name: "train-images-idx3-ubyte.gz",
        urls: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        ],
        md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    },
    Remote {
        name: "train-labels-idx1-ubyte.gz",
        urls: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz",
        ],
        md5: "25c81989df183df01b3e8a0aad5dffbe",
    },
    Remote {
        name: "t10k-images-idx3-ubyte.gz",
        urls: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz",
        ],
        md5: "bef4ecab320f06d8554ea6380940ec79",
    },
    Remote {
        name: "t10k-labels-idx1-ubyte.gz",
        urls: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz",
        ],
        md5: "bb300cfdad3c16e7a12a480ee83cd310",
    },
];

/// N-MNIST's two archives (the authors' Mendeley Data record, then their Dropbox folder).
pub(crate) const NMNIST: [Remote; 2] = [
    Remote {
        name: "Train.zip",
        urls: &[
            "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
            "https://www.dropbox.com/sh/tg2ljlbmtzygrag/AABlMOuR15ugeOxMCX0Pvoxga/Train.zip?dl=1",
        ],
        md5: "20959b8e626244a1b502305a9e6e2031",
    },
    Remote {
        name: "Test.zip",
        urls: &[
            "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
            "https://www.dropbox.com/sh/tg2ljlbmtzygrag/AADSKgJ2CjaBWh75HnTNZyhca/Test.zip?dl=1",
        ],
        md5: "69ca8762b2fe404d9b9bad1103e97832",
    },
];

/// The cache directory of a data set: `$BURN_SNN_CACHE/<name>`, else
/// `<user cache dir>/burn-snn/<name>`.
pub fn cache_dir(name: &str) -> Result<PathBuf, DataError> {
    if let Some(dir) = std::env::var_os("BURN_SNN_CACHE") {
        return Ok(PathBuf::from(dir).join(name));
    }
    dirs::cache_dir()
        .map(|d| d.join("burn-snn").join(name))
        .ok_or_else(|| {
            DataError::Missing(
                "no user cache directory; set BURN_SNN_CACHE or pass a data directory".into(),
            )
        })
}

fn has_fashion_mnist(dir: &Path) -> bool {
    IDX_FILES
        .iter()
        .all(|f| dir.join(format!("{f}.gz")).is_file() || dir.join(f).is_file())
}

fn has_nmnist(dir: &Path) -> bool {
    dir.join("Train").is_dir() && dir.join("Test").is_dir()
}

fn missing(what: &str, layout: &str, remotes: &[Remote], looked: &[&Path]) -> DataError {
    let urls: Vec<String> = remotes
        .iter()
        .map(|r| format!("  {} (md5 {}): {}", r.name, r.md5, r.urls.join(" or ")))
        .collect();
    let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    DataError::Missing(format!(
        "{what} not found in {}. Expected {layout}. Download the official files:\n{}\n{}",
        looked.join(" or "),
        urls.join("\n"),
        if cfg!(feature = "download") {
            "or call without a directory to download them into the cache."
        } else {
            "or build with the `download` feature to fetch them into the cache."
        }
    ))
}

/// The Fashion-MNIST directory: `dir` if given (it must hold the four IDX files), else the
/// cache, downloading into it when needed (feature `download`).
pub fn fashion_mnist_dir(dir: Option<&Path>) -> Result<PathBuf, DataError> {
    let layout = "the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz";
    if let Some(dir) = dir {
        return if has_fashion_mnist(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(missing("Fashion-MNIST", layout, &FASHION_MNIST, &[dir]))
        };
    }
    let cache = cache_dir("fashion-mnist")?;
    if has_fashion_mnist(&cache) {
        return Ok(cache);
    }
    #[cfg(feature = "download")]
    {
        for remote in &FASHION_MNIST {
            fetch::fetch(remote, &cache)?;
        }
        Ok(cache)
    }
    #[cfg(not(feature = "download"))]
    Err(missing("Fashion-MNIST", layout, &FASHION_MNIST, &[&cache]))
}

/// The N-MNIST directory (holding `Train/` and `Test/`): `dir` if given, else the cache,
/// downloading and unpacking into it when needed (feature `download`).
pub fn nmnist_dir(dir: Option<&Path>) -> Result<PathBuf, DataError> {
    let layout = "the official layout <dir>/Train/<digit>/<id>.bin and <dir>/Test/<digit>/<id>.bin";
    if let Some(dir) = dir {
        return if has_nmnist(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(missing("N-MNIST", layout, &NMNIST, &[dir]))
        };
    }
    let cache = cache_dir("nmnist")?;
    if has_nmnist(&cache) {
        return Ok(cache);
    }
    #[cfg(feature = "download")]
    {
        for remote in &NMNIST {
            let zip = fetch::fetch(remote, &cache)?;
            fetch::unzip(&zip, &cache)?;
        }
        Ok(cache)
    }
    #[cfg(not(feature = "download"))]
    Err(missing("N-MNIST", layout, &NMNIST, &[&cache]))
}

/// Downloading, checking and unpacking (feature `download`).
#[cfg(feature = "download")]
pub(crate) mod fetch {
    use super::{DataError, Remote};
    use md5::{Digest, Md5};
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};

    /// Lower-case hex MD5 of a file.
    pub fn md5_file(path: &Path) -> Result<String, DataError> {
        let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex(&hasher.finalize()))
    }

    /// Lower-case hex of a digest.
    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Downloads `remote` into `dir` (trying its URLs in order) unless a file with the right
    /// MD5 is already there; returns the file's path.
    pub fn fetch(remote: &Remote, dir: &Path) -> Result<PathBuf, DataError> {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let dest = dir.join(remote.name);
        if dest.is_file() && md5_file(&dest)? == remote.md5 {
            return Ok(dest);
        }
        let mut errors = Vec::new();
        for url in remote.urls {
            match download(url, &dest, remote.md5) {
                Ok(()) => return Ok(dest),
                Err(err) => errors.push(err.to_string()),
            }
        }
        Err(DataError::Download {
            url: remote.urls.join(" and "),
            detail: errors.join("; "),
        })
    }

    /// Streams `url` to `dest` through a temporary file, with a progress bar on a terminal,
    /// and keeps it only if its MD5 is `md5`.
    pub fn download(url: &str, dest: &Path, md5: &str) -> Result<(), DataError> {
        let fail = |detail: String| DataError::Download {
            url: url.to_string(),
            detail,
        };
        let mut response = ureq::get(url).call().map_err(|e| fail(e.to_string()))?;
        let len = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bar = indicatif::ProgressBar::new(len.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(
            dest.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let partial = dest.with_extension("part");
        let mut file = std::fs::File::create(&partial).map_err(|e| DataError::io(&partial, e))?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| fail(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| DataError::io(&partial, e))?;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        drop(file);
        let got = hex(&hasher.finalize());
        if got != md5 {
            let _ = std::fs::remove_file(&partial);
            return Err(fail(format!(
                "checksum mismatch: MD5 {got}, expected {md5}"
            )));
        }
        std::fs::rename(&partial, dest).map_err(|e| DataError::io(dest, e))
    }

    /// Unpacks a zip archive into `dir`, refusing entries that would land outside it.
    pub fn unzip(archive: &Path, dir: &Path) -> Result<(), DataError> {
        let file = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
        let bad = |e: zip::result::ZipError| {
            DataError::format(archive.display().to_string(), e.to_string())
        };
        let mut zip = zip::ZipArchive::new(file).map_err(bad)?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(bad)?;
            let Some(name) = entry.enclosed_name() else {
                return Err(DataError::format(
                    archive.display().to_string(),
                    format!("unsafe entry name {:?}", entry.name()),
                ));
            };
            let out = dir.join(name);
            if entry.is_dir() {
                std::fs::create_dir_all(&out).map_err(|e| DataError::io(&out, e))?;
                continue;
            }
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
            }
            let mut dest = std::fs::File::create(&out).map_err(|e| DataError::io(&out, e))?;
            std::io::copy(&mut entry, &mut dest).map_err(|e| DataError::io(&out, e))?;
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::{BufRead, BufReader};
        use std::net::TcpListener;

        /// Serves `body` once on loopback; returns the URL.
        fn serve_once(body: Vec<u8>) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
            });
            format!("http://{addr}/file.gz")
        }

        fn temp(name: &str) -> PathBuf {
            let dir =
                std::env::temp_dir().join(format!("burn-snn-dl-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }

        #[test]
        fn downloads_checks_md5_and_rejects_a_mismatch() {
            let dir = temp("md5");
            let body = b"hello spiking world".to_vec();
            let md5: String = Md5::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let dest = dir.join("ok.bin");
            download(&serve_once(body.clone()), &dest, &md5).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), body);
            assert_eq!(md5_file(&dest).unwrap(), md5);

            let bad = dir.join("bad.bin");
            let err =
                download(&serve_once(body), &bad, "00000000000000000000000000000000").unwrap_err();
            assert!(err.to_string().contains("checksum mismatch"), "{err}");
            assert!(!bad.exists() && !bad.with_extension("part").exists());
            std::fs::remove_dir_all(dir).unwrap();
        }

        #[test]
        fn unzip_extracts_the_layout() {
            let dir = temp("zip");
            let archive = dir.join("Test.zip");
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
            zip.start_file("Test/3/1.bin", zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(&[1, 2, 0, 0, 9]).unwrap();
            zip.finish().unwrap();
            unzip(&archive, &dir).unwrap();
            assert_eq!(
                std::fs::read(dir.join("Test/3/1.bin")).unwrap(),
                vec![1, 2, 0, 0, 9]
            );
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_directory_without_the_files_names_them_and_the_urls() {
        let err = fashion_mnist_dir(Some(Path::new("/nonexistent/fmnist")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train-images-idx3-ubyte.gz") && err.contains("fashion-mnist.s3-website"),
            "{err}"
        );
        let err = nmnist_dir(Some(Path::new("/nonexistent/nmnist")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Train/<digit>/<id>.bin")
                && err.contains("20959b8e626244a1b502305a9e6e2031"),
            "{err}"
        );
    }
}
