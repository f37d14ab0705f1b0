//! A TCP proxy on 127.0.0.1 that can cut the connection to the database, so tests see what a
//! node does while its database is down and after it comes back.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// A forwarding proxy with an on/off switch.
#[derive(Debug)]
pub struct TcpProxy {
    /// The address to connect to instead of the target.
    pub addr: SocketAddr,
    target: SocketAddr,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// Starts forwarding 127.0.0.1:<random port> to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = Self {
            addr,
            target,
            connections: Arc::default(),
            acceptor: std::sync::Mutex::new(None),
        };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&self, listener: TcpListener) {
        let (target, connections) = (self.target, self.connections.clone());
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().await.push(task);
            }
        });
        let old = self
            .acceptor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(acceptor);
        if let Some(old) = old {
            old.abort();
        }
    }

    /// Cuts every open connection and closes the port, like a database host whose PostgreSQL
    /// stopped: new connections are refused.
    pub async fn cut(&self) {
        let acceptor = self
            .acceptor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(acceptor) = acceptor {
            acceptor.abort();
            let _ = acceptor.await;
        }
        for task in self.connections.lock().await.drain(..) {
            task.abort();
        }
    }

    /// Listens on the same port again and lets connections through.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind the proxy's port");
        self.accept_on(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self
            .acceptor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            acceptor.abort();
        }
    }
}
