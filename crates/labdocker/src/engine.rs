//! The connection to a Docker Engine: bollard over the lab's unix socket,
//! version negotiated, behind blocking calls so a binary (or labctl) needs no
//! runtime of its own. The few answers bollard's types cannot read on older
//! engines (`/system/df` on API 1.41) are fetched raw over the same socket.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker as Bollard;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::EngineError;

/// The label every object labdocker creates carries; its value is `labkit`.
pub const OWNER_LABEL: &str = "org.labkit.owner";
/// The value of [`OWNER_LABEL`].
pub const OWNER: &str = "labkit";

/// How long one API call may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A connected Engine.
#[derive(Debug)]
pub struct Engine {
    rt: tokio::runtime::Runtime,
    docker: Bollard,
    socket: PathBuf,
    api: String,
    server: String,
}

/// Whether `labels` mark an object as labkit's.
#[must_use]
pub fn owned(labels: Option<&HashMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(OWNER_LABEL))
        .is_some_and(|v| v == OWNER)
}

impl Engine {
    /// Connect to `socket` (`unix:///...`) and negotiate the API version.
    ///
    /// # Errors
    /// When the socket is not a unix socket, is missing, or the Engine does
    /// not answer.
    pub fn connect(socket: &str) -> Result<Self, EngineError> {
        let Some(path) = socket.strip_prefix("unix://") else {
            return Err(EngineError::NotUnix {
                socket: socket.to_owned(),
            });
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| EngineError::Runtime { source })?;
        let docker =
            Bollard::connect_with_unix(socket, TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)
                .map_err(|source| EngineError::Connect {
                    socket: socket.to_owned(),
                    source,
                })?;
        let docker =
            rt.block_on(docker.negotiate_version())
                .map_err(|source| EngineError::Connect {
                    socket: socket.to_owned(),
                    source,
                })?;
        let version = rt
            .block_on(docker.version())
            .map_err(|source| EngineError::Connect {
                socket: socket.to_owned(),
                source,
            })?;
        let v = docker.client_version();
        Ok(Self {
            rt,
            docker,
            socket: PathBuf::from(path),
            api: format!("{}.{}", v.major_version, v.minor_version),
            server: version.version.unwrap_or_default(),
        })
    }

    /// The API version both sides speak, e.g. `1.41`.
    #[must_use]
    pub fn api_version(&self) -> &str {
        &self.api
    }

    /// The Engine's own version, e.g. `20.10.24+dfsg1`.
    #[must_use]
    pub fn server_version(&self) -> &str {
        &self.server
    }

    /// The socket's path.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The bollard client, for calls labdocker does not wrap.
    #[must_use]
    pub fn bollard(&self) -> &Bollard {
        &self.docker
    }

    /// Run a future on this engine's runtime.
    pub(crate) fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// `GET path` (without the version prefix) over the socket, decoded as
    /// JSON without bollard's types: for answers whose layout changed between
    /// API versions.
    ///
    /// # Errors
    /// When the socket cannot be reached, the Engine answers an error, or the
    /// body is not JSON.
    pub fn raw_get(&self, path: &str) -> Result<Value, EngineError> {
        let what = path.to_owned();
        let url = format!("/v{}{path}", self.api);
        let body = self
            .block(async {
                let mut s = tokio::net::UnixStream::connect(&self.socket).await?;
                s.write_all(
                    format!("GET {url} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
                let mut buf = Vec::new();
                tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer")
                    })??;
                Ok::<_, std::io::Error>(buf)
            })
            .map_err(|source| EngineError::Raw {
                path: what.clone(),
                source,
            })?;
        let (status, body) = http_body(&body).ok_or_else(|| EngineError::Http {
            path: what.clone(),
            detail: "the answer is not HTTP".to_owned(),
        })?;
        if !(200..300).contains(&status) {
            let msg = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(EngineError::Http {
                path: what,
                detail: format!("status {status}: {msg}"),
            });
        }
        serde_json::from_slice(&body).map_err(|source| EngineError::Decode { what, source })
    }

    /// Build an image from a tar context, labelled as labkit's.
    ///
    /// # Errors
    /// When the build fails; the Engine's message is kept.
    pub fn build_image(&self, tag: &str, context_tar: Vec<u8>) -> Result<String, EngineError> {
        let labels = HashMap::from([(OWNER_LABEL, OWNER)]);
        let opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .t(tag)
            .rm(true)
            .labels(&labels)
            .build();
        self.block(async {
            let mut s =
                self.docker
                    .build_image(opts, None, Some(bollard::body_full(context_tar.into())));
            let mut id = String::new();
            while let Some(item) = s.next().await {
                let item = item.map_err(|source| EngineError::Api {
                    what: "build an image",
                    source,
                })?;
                if let Some(e) = item.error_detail.and_then(|d| d.message) {
                    return Err(EngineError::Build {
                        tag: tag.to_owned(),
                        message: e,
                    });
                }
                if let Some(i) = item.aux.and_then(|a| a.id) {
                    id = i;
                }
            }
            Ok(id)
        })
    }
}

/// Split an HTTP/1.1 answer into status and body, undoing chunked encoding.
fn http_body(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[end + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..nl]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[nl + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::http_body;

    #[test]
    fn chunked_and_plain_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(http_body(plain), Some((200, b"{}".to_vec())));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked), Some((200, b"{\"a\":1}".to_vec())));
        assert_eq!(http_body(b"garbage"), None);
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc";
        assert_eq!(http_body(cut), None);
    }
}
