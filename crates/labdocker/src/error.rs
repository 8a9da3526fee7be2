//! labdocker's errors: one enum for talking to the Engine, each variant
//! keeping its cause.

/// What went wrong between labdocker and the Engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The socket is not `unix://`.
    #[error("{socket} is not a unix socket; labdocker talks to the local Engine over unix:///...")]
    NotUnix {
        /// The socket as given.
        socket: String,
    },
    /// No async runtime could be built.
    #[error("cannot start the I/O runtime")]
    Runtime {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Engine did not answer.
    #[error("cannot reach the Docker Engine at {socket}")]
    Connect {
        /// The socket.
        socket: String,
        /// Why.
        #[source]
        source: bollard::errors::Error,
    },
    /// An API call failed.
    #[error("the Engine refused to {what}")]
    Api {
        /// What was asked.
        what: &'static str,
        /// The Engine's answer.
        #[source]
        source: bollard::errors::Error,
    },
    /// A raw request could not be sent or read.
    #[error("cannot ask the Engine for {path}")]
    Raw {
        /// The API path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A raw request was answered with an error.
    #[error("the Engine answered {path} with {detail}")]
    Http {
        /// The API path.
        path: String,
        /// Status and message.
        detail: String,
    },
    /// An answer could not be decoded.
    #[error("cannot read the Engine's answer to {what}")]
    Decode {
        /// What was asked.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// An image build failed.
    #[error("building {tag} failed: {message}")]
    Build {
        /// The tag.
        tag: String,
        /// The Engine's message.
        message: String,
    },
    /// An object is not labkit's, so labdocker leaves it alone.
    #[error(
        "{kind} {name} does not carry the label org.labkit.owner=labkit, so labdocker leaves it alone"
    )]
    NotOwned {
        /// Kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The node is not in a Swarm.
    #[error("this Engine is not part of a Swarm")]
    NoSwarm,
    /// A service asks for what Swarm cannot do.
    #[error("service {service}: {reason}")]
    Service {
        /// The service.
        service: String,
        /// Why it cannot be deployed.
        reason: String,
    },
    /// The events stream ended.
    #[error("the Engine closed the events stream")]
    EventsEnded,
}

/// What went wrong with daemon.json.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path}:{line}:{column}: not JSON")]
    Syntax {
        /// The file.
        path: std::path::PathBuf,
        /// Line of the error.
        line: usize,
        /// Column.
        column: usize,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file is JSON but not an object.
    #[error("{path}: daemon.json must be a JSON object")]
    NotObject {
        /// The file.
        path: std::path::PathBuf,
    },
    /// It cannot be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
