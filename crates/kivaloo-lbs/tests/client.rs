//! kivaloo-client's connection machinery against a real lbs server on a
//! real socket (the server runs in this process, the store on real files).

use std::sync::Arc;

use kivaloo_client::net::{AnyListener, connect};
use kivaloo_client::pipeline::{Workload, drive};
use kivaloo_client::{ClientError, LbsClient};
use kivaloo_lbs::server::{LbsServer, ServerConfig};
use kivaloo_lbs::{FsStorage, Storage, Store};
use kivaloo_wire::lbs::{LbsRequest, LbsRequestKind, LbsResponse};

const B: u32 = 512;

async fn server(
    dir: &std::path::Path,
) -> (daemon::addr::ResolvedAddr, tokio::task::JoinHandle<()>) {
    let fs = FsStorage::new(dir).unwrap();
    let store = Arc::new(Store::open(Arc::new(fs) as Arc<dyn Storage>, B).unwrap());
    let srv = LbsServer::new(store, &ServerConfig::default()).unwrap();
    let l = AnyListener::bind(&daemon::addr::ResolvedAddr::Inet(
        "127.0.0.1:0".parse().unwrap(),
    ))
    .unwrap();
    let addr = l.local_addr().unwrap();
    let h = tokio::spawn(async move {
        loop {
            let c = l.accept().await.unwrap();
            srv.serve(c).await.unwrap();
        }
    });
    (addr, h)
}

fn block(n: u64) -> Vec<u8> {
    (0..B as u64).map(|i| (n * 7 + i) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_with_concurrent_requests() {
    let d = tempfile::tempdir().unwrap();
    let (addr, srv) = server(d.path()).await;
    let (c, p) = LbsClient::new(connect(&addr).await.unwrap()).await.unwrap();
    assert_eq!((p.block_size, p.nextblk, p.lastblk), (B, 0, u64::MAX));
    let data: Vec<u8> = (0..100).flat_map(block).collect();
    assert_eq!(c.append(0, &data).await.unwrap(), Some(100));
    assert_eq!(c.append(0, &block(0)).await.unwrap(), None);
    // 100 GETs in flight at once from many tasks.
    let mut tasks = Vec::new();
    for n in 0..100u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { (n, c.get(n).await.unwrap()) }));
    }
    for t in tasks {
        let (n, b) = t.await.unwrap();
        assert_eq!(b, Some(block(n)));
    }
    assert_eq!(c.get(100).await.unwrap(), None);
    c.free(0).await.unwrap();
    assert_eq!(c.params2().await.unwrap().nextblk, 100);
    srv.abort();
}

/// Reads every block `rounds` times, 4096 in flight.
struct ReadAll {
    n: u64,
    total: u64,
    sent: u64,
    got: u64,
}

impl Workload for ReadAll {
    fn next_request(&mut self, id: u64, record: &mut Vec<u8>) -> bool {
        if self.sent == self.total {
            return false;
        }
        assert_eq!(id, self.sent, "IDs are sequential");
        LbsRequest::Get { blkno: id % self.n }.encode(record);
        self.sent += 1;
        true
    }
    fn response(&mut self, id: u64, record: &[u8]) -> Result<(), ClientError> {
        match LbsResponse::decode(LbsRequestKind::Get, record, B)? {
            LbsResponse::Get(Some(b)) if b == block(id % self.n).as_slice() => {}
            other => panic!("request {id}: {other:?}"),
        }
        self.got += 1;
        Ok(())
    }
    fn finished(&mut self) -> bool {
        self.got == self.total
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_keeps_thousands_in_flight() {
    let d = tempfile::tempdir().unwrap();
    let (addr, srv) = server(d.path()).await;
    let (c, _) = LbsClient::new(connect(&addr).await.unwrap()).await.unwrap();
    let data: Vec<u8> = (0..64).flat_map(block).collect();
    c.append(0, &data).await.unwrap();
    let mut s = connect(&addr).await.unwrap();
    // (The first connection must go away: lbs serves one at a time.)
    drop(c);
    let mut w = ReadAll {
        n: 64,
        total: 50_000,
        sent: 0,
        got: 0,
    };
    drive(&mut s, 4096, 1 << 20, &mut w).await.unwrap();
    assert_eq!(w.got, 50_000);
    srv.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_fails_pending_requests() {
    let d = tempfile::tempdir().unwrap();
    let (addr, srv) = server(d.path()).await;
    let (c, _) = LbsClient::new(connect(&addr).await.unwrap()).await.unwrap();
    // An APPEND whose payload is not whole blocks makes the server drop
    // the connection: the caller gets an error, not a hang.
    let e = c.append(0, &[0u8; 700]).await.unwrap_err();
    assert!(matches!(e, ClientError::Closed | ClientError::Io(_)), "{e}");
    assert!(c.get(0).await.is_err());
    srv.abort();
}
