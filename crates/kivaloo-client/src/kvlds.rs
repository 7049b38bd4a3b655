//! A typed kvlds client over a [`Connection`]: many requests may be in
//! flight at once from different tasks (`tokio::join!`, spawned tasks).

use kivaloo_wire::kvlds::{KvldsRequest, KvldsRequestKind, KvldsResponse, STATUS_OK};

use crate::conn::Connection;
use crate::error::ClientError;
use crate::net::{AnyStream, connect};

/// RANGE byte budget per request, as upstream's iterator uses.
pub const RANGE_BUDGET: u32 = 1 << 20;

/// Largest kvlds response: a RANGE answer can exceed its budget by one
/// leaf's worth of pairs; 16 MiB is far beyond any page size.
const MAX_RESPONSE: usize = 16 << 20;

/// One RANGE answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangePage {
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Where to continue; empty = the end of the key space.
    pub next: Vec<u8>,
}

#[derive(Clone)]
pub struct KvldsClient {
    conn: Connection,
}

impl KvldsClient {
    pub fn new(stream: AnyStream) -> Self {
        KvldsClient {
            conn: Connection::new(stream, MAX_RESPONSE),
        }
    }

    /// Connect to a kvlds (or a mux in front of one) at `addr`.
    pub async fn connect(addr: &daemon::addr::ResolvedAddr) -> Result<Self, ClientError> {
        Ok(Self::new(connect(addr).await?))
    }

    async fn call(&self, req: KvldsRequest<'_>) -> Result<bytes::Bytes, ClientError> {
        let mut rec = Vec::with_capacity(16);
        req.encode(&mut rec)?;
        self.conn.request(rec).await
    }

    async fn status(&self, req: KvldsRequest<'_>) -> Result<bool, ClientError> {
        let kind = req.kind();
        let r = self.call(req).await?;
        match KvldsResponse::decode(kind, &r)? {
            KvldsResponse::Status(s) => Ok(s == STATUS_OK),
            other => Err(unexpected(&other)),
        }
    }

    /// (maximum key length, maximum value length).
    pub async fn params(&self) -> Result<(u32, u32), ClientError> {
        let r = self.call(KvldsRequest::Params).await?;
        match KvldsResponse::decode(KvldsRequestKind::Params, &r)? {
            KvldsResponse::Params { kmax, vmax } => Ok((kmax, vmax)),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let r = self.call(KvldsRequest::Get { key }).await?;
        match KvldsResponse::decode(KvldsRequestKind::Get, &r)? {
            KvldsResponse::Get(v) => Ok(v.map(<[u8]>::to_vec)),
            other => Err(unexpected(&other)),
        }
    }

    /// Durable when this returns.
    pub async fn set(&self, key: &[u8], value: &[u8]) -> Result<(), ClientError> {
        self.status(KvldsRequest::Set { key, value })
            .await
            .map(|_| ())
    }

    /// Store only if absent; `true` if stored.
    pub async fn add(&self, key: &[u8], value: &[u8]) -> Result<bool, ClientError> {
        self.status(KvldsRequest::Add { key, value }).await
    }

    /// Store only if present; `true` if stored.
    pub async fn modify(&self, key: &[u8], value: &[u8]) -> Result<bool, ClientError> {
        self.status(KvldsRequest::Modify { key, value }).await
    }

    /// Store if the current value is `oval`; `true` if swapped.
    pub async fn cas(&self, key: &[u8], oval: &[u8], value: &[u8]) -> Result<bool, ClientError> {
        self.status(KvldsRequest::Cas { key, oval, value }).await
    }

    pub async fn delete(&self, key: &[u8]) -> Result<(), ClientError> {
        self.status(KvldsRequest::Delete { key }).await.map(|_| ())
    }

    /// Delete if the current value is `oval`; `true` if deleted.
    pub async fn cad(&self, key: &[u8], oval: &[u8]) -> Result<bool, ClientError> {
        self.status(KvldsRequest::Cad { key, oval }).await
    }

    /// One RANGE request, as the server answers it.
    pub async fn range(
        &self,
        start: &[u8],
        end: &[u8],
        max: u32,
    ) -> Result<RangePage, ClientError> {
        let r = self.call(KvldsRequest::Range { max, start, end }).await?;
        match KvldsResponse::decode(KvldsRequestKind::Range, &r)? {
            KvldsResponse::Range(rr) => Ok(RangePage {
                pairs: rr.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
                next: rr.next.to_vec(),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Every pair with start ≤ key < end (empty end: no end), in key order,
    /// one RANGE at a time. Keys equal to `end` are never reported, whether
    /// or not the server includes them (upstream does, issue #352).
    pub async fn scan<F>(&self, start: &[u8], end: &[u8], mut f: F) -> Result<(), ClientError>
    where
        F: FnMut(&[u8], &[u8]) -> Result<(), ClientError>,
    {
        let mut from = start.to_vec();
        loop {
            let page = self.range(&from, end, RANGE_BUDGET).await?;
            for (k, v) in &page.pairs {
                if k.as_slice() < from.as_slice() {
                    return Err(ClientError::Protocol(
                        "RANGE returned a key before its start".into(),
                    ));
                }
                if !end.is_empty() && k.as_slice() >= end {
                    return Ok(());
                }
                f(k, v)?;
            }
            if page.next.is_empty() || (!end.is_empty() && page.next.as_slice() >= end) {
                return Ok(());
            }
            if page.next <= from {
                return Err(ClientError::Protocol("RANGE made no progress".into()));
            }
            from = page.next;
        }
    }
}

fn unexpected(r: &KvldsResponse) -> ClientError {
    ClientError::Protocol(format!("unexpected response {r:?}"))
}
