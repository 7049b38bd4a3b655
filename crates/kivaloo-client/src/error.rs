use kivaloo_wire::{DecodeError, EncodeError, FrameError};

/// What went wrong talking to a kivaloo daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection (kivaloo servers answer bad
    /// requests — say, a key over the server's limit — this way).
    #[error("connection closed by the server")]
    Closed,
    #[error("bad packet from the server: {0}")]
    Frame(#[from] FrameError),
    #[error("bad response from the server: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot send: {0}")]
    Encode(#[from] EncodeError),
    #[error("protocol error: {0}")]
    Protocol(String),
}
