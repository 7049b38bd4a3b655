//! A typed async lbs client over a [`Connection`].

use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse, MAX_BLOCK_SIZE};

use crate::conn::Connection;
use crate::error::ClientError;
use crate::net::AnyStream;

/// lbs parameters from PARAMS2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbsParams {
    pub block_size: u32,
    /// First never-written block.
    pub nextblk: u64,
    /// nextblk − 1, or 2^64 − 1 when empty.
    pub lastblk: u64,
}

#[derive(Clone)]
pub struct LbsClient {
    conn: Connection,
    block_size: u32,
}

impl LbsClient {
    /// Connect over `stream` and ask for the parameters (the block size is
    /// needed to parse GET answers).
    pub async fn new(stream: AnyStream) -> Result<(Self, LbsParams), ClientError> {
        let conn = Connection::new(stream, 24 + MAX_BLOCK_SIZE as usize);
        let mut c = LbsClient {
            conn,
            block_size: MAX_BLOCK_SIZE,
        };
        let p = c.params2().await?;
        c.block_size = p.block_size;
        Ok((c, p))
    }

    async fn call(
        &self,
        kind: LbsRequestKind,
        req: LbsRequest<'_>,
    ) -> Result<bytes::Bytes, ClientError> {
        debug_assert_eq!(kind, req.kind());
        let mut rec = Vec::new();
        req.encode(&mut rec);
        self.conn.request(rec).await
    }

    pub async fn params2(&self) -> Result<LbsParams, ClientError> {
        let r = self
            .call(LbsRequestKind::Params2, LbsRequest::Params2)
            .await?;
        match LbsResponse::decode(LbsRequestKind::Params2, &r, self.block_size)? {
            LbsResponse::Params2 {
                block_size,
                nextblk,
                lastblk,
            } => Ok(LbsParams {
                block_size,
                nextblk,
                lastblk,
            }),
            other => Err(ClientError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    pub async fn get(&self, blkno: u64) -> Result<Option<Vec<u8>>, ClientError> {
        let r = self
            .call(LbsRequestKind::Get, LbsRequest::Get { blkno })
            .await?;
        match LbsResponse::decode(LbsRequestKind::Get, &r, self.block_size)? {
            LbsResponse::Get(b) => Ok(b.map(<[u8]>::to_vec)),
            other => Err(ClientError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    /// `Some(nextblk)` once durable, `None` if refused (wrong block number
    /// or another APPEND in progress).
    pub async fn append(&self, blkno: u64, data: &[u8]) -> Result<Option<u64>, ClientError> {
        let nblks = u32::try_from(data.len() / self.block_size as usize)
            .map_err(|_| ClientError::Protocol("APPEND too large".into()))?;
        let req = LbsRequest::Append { nblks, blkno, data };
        let r = self.call(LbsRequestKind::Append, req).await?;
        match LbsResponse::decode(LbsRequestKind::Append, &r, self.block_size)? {
            LbsResponse::Append(n) => Ok(n),
            other => Err(ClientError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    pub async fn free(&self, keep_from: u64) -> Result<(), ClientError> {
        let r = self
            .call(LbsRequestKind::Free, LbsRequest::Free { keep_from })
            .await?;
        match LbsResponse::decode(LbsRequestKind::Free, &r, self.block_size)? {
            LbsResponse::Free => Ok(()),
            other => Err(ClientError::Protocol(format!("unexpected {other:?}"))),
        }
    }
}
