//! The echo target: one thread, one epoll loop (mio), any number of
//! connections. Echoes what it reads; closes when the peer closes.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Result;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// A running echo server; stopped when dropped.
pub struct EchoServer {
    addr: SocketAddr,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub fn start() -> Result<EchoServer> {
        let mut listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let thread = std::thread::spawn(move || serve(poll, listener));
        Ok(EchoServer {
            addr,
            waker,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Conn {
    sock: TcpStream,
    pending: Vec<u8>,
}

/// Move bytes until the socket would block; false once the connection is done.
fn drive(c: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        while !c.pending.is_empty() {
            match c.sock.write(&c.pending) {
                Ok(n) => {
                    c.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        match c.sock.read(buf) {
            Ok(0) => return false,
            Ok(n) => c.pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn serve(mut poll: Poll, listener: TcpListener) {
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 2usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        for ev in events.iter() {
            match ev.token() {
                WAKER => return,
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            let t = Token(next);
                            next += 1;
                            let _ = sock.set_nodelay(true);
                            if poll
                                .registry()
                                .register(&mut sock, t, Interest::READABLE | Interest::WRITABLE)
                                .is_ok()
                            {
                                conns.insert(
                                    t,
                                    Conn {
                                        sock,
                                        pending: Vec::new(),
                                    },
                                );
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        // EMFILE and the like: back off to the next event.
                        Err(_) => break,
                    }
                },
                t => {
                    let open = conns.get_mut(&t).is_some_and(|c| drive(c, &mut buf));
                    if !open && let Some(mut c) = conns.remove(&t) {
                        let _ = poll.registry().deregister(&mut c.sock);
                    }
                }
            }
        }
    }
}
