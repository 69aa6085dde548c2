//! A live status page for the environments of a slugstore store: `slug serve`.
//!
//! The page lists each environment with its live release, the releases on disk and the newest
//! deploys, phase by phase (pending, in progress, success, failed), with each deploy's log. It changes
//! while a deploy runs, without a reload: the browser holds one Server-Sent Events stream
//! (`/api/events`) and the server pushes the whole picture again whenever it changes. Rollback and
//! promote are offered behind a token.
//!
//! Why it is built this way:
//!
//! - **Files, not the store.** Every running `slug` command holds the store's lock, a deploy for
//!   minutes. The page reads only what deploys write whole and atomically (the environment registry,
//!   each target's `state.json`, each deploy's record and log; see
//!   [`slugstore_deploy::overview::overview()`]), so it never waits on the lock and never blocks a deploy.
//!   Only the actions open the store, and give up quickly (HTTP 409) when a deploy holds it.
//! - **One poller, many watchers.** A single thread re-reads the files every `poll` interval while
//!   someone watches, and wakes the streams only when the serialized picture changed (module `feed`).
//! - **Threads, not async, within limits.** A status page has a handful of clients; a thread per
//!   connection keeps the server small and its code plain, and bounded pools of connections and event
//!   streams, a deadline per request and ceilings on every size keep a misbehaving or hostile client
//!   from taking the threads the operators need (module `limits`): when full, the server says so (503).
//! - **Its own small HTTP reader.** The API is a few GET paths and two small POSTs; reading exactly that
//!   (module `request`) lets every limit be checked as the bytes arrive, and a request whose meaning
//!   is ambiguous (two `Host` headers) be refused.
//! - **Safe by default.** It listens on 127.0.0.1; requests naming another host are refused (a web page
//!   elsewhere cannot reach it through DNS rebinding); actions need `Authorization: Bearer TOKEN`
//!   (which a cross-site form cannot send), compared in constant time; a wrong token changes nothing
//!   (HTTP 401). The page's scripts and styles are served files under a strict Content-Security-Policy.
//!
//! ```
//! use std::io::{Read, Write};
//! use slugstore_serve::{ServeOptions, Server, Token};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = dir.path().join("store");
//! slugstore::Store::init(&store, &Default::default()).unwrap();
//!
//! let mut opts = ServeOptions::new(Token::generate().unwrap());
//! opts.listen = "127.0.0.1:0".parse().unwrap(); // any free port
//! let server = Server::bind(&store, opts).unwrap();
//! let addr = server.addr();
//! println!("serving {}", server.url());
//! std::thread::spawn(move || server.run()); // until the process ends
//!
//! // What the page reads: the environments, as JSON.
//! let mut conn = std::net::TcpStream::connect(addr).unwrap();
//! conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
//! write!(conn, "GET /api/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer).unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//! ```

mod api;
mod assets;
mod auth;
mod conn;
mod feed;
mod limits;
mod reply;
mod request;
mod routes;
mod slots;
mod sse;
mod timed;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use auth::{Token, TOKEN_VAR};
pub use limits::Limits;
use slugstore_deploy::deploy::DeployOptions;

use crate::feed::Feed;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (default 127.0.0.1:7878; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The token actions need.
    pub token: Token,
    /// Refuse every action (HTTP 403), whatever the token.
    pub read_only: bool,
    /// How often the files are re-read while someone watches.
    pub poll: Duration,
    /// The newest deploys shown per environment.
    pub deploys: usize,
    /// How long an action waits for another process to release the store before answering 409.
    pub lock_timeout: Duration,
    /// How rollbacks and promotions materialize and switch releases (retention, post-switch command).
    pub deploy: DeployOptions,
    /// More `Host` values accepted on a loopback address (`localhost:8080` for an SSH tunnel from
    /// another port, a proxy's name when it passes the client's `Host` on).
    pub allowed_hosts: Vec<String>,
    /// How many clients are served at once, and how long a request may take to arrive.
    pub limits: Limits,
}

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// How long an action waits for the store by default: a page's button should answer, not hang
/// behind a deploy of several minutes.
pub const ACTION_LOCK_WAIT: Duration = Duration::from_secs(2);

impl ServeOptions {
    /// The defaults, with actions behind `token`.
    pub fn new(token: Token) -> ServeOptions {
        ServeOptions {
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            token,
            read_only: false,
            poll: Duration::from_millis(250),
            deploys: 10,
            lock_timeout: ACTION_LOCK_WAIT,
            deploy: DeployOptions::default(),
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// What every request handler needs.
struct Shared {
    /// The store directory.
    pub store: PathBuf,
    /// The options served with.
    pub opts: ServeOptions,
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The live picture.
    pub feed: Feed,
}

/// A bound status-page server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `opts.listen` for the store at `store`. The store must exist; it is not opened.
    pub fn bind(store: &Path, opts: ServeOptions) -> slugstore::Result<Server> {
        if !store.join(slugstore::store::MARKER).is_file() {
            return Err(slugstore::Error::NoStore(store.to_path_buf()));
        }
        let cannot = |e: std::io::Error| {
            slugstore::Error::external(format!("cannot listen on {}: {e}", opts.listen))
        };
        let listener = TcpListener::bind(opts.listen).map_err(cannot)?;
        let addr = listener.local_addr().map_err(cannot)?;
        let feed = Feed::new(store.to_path_buf(), opts.poll, opts.deploys, opts.read_only);
        let shared = Arc::new(Shared {
            store: store.to_path_buf(),
            opts,
            addr,
            feed,
        });
        Ok(Server { listener, shared })
    }

    /// The address bound (with the port chosen when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.shared.addr)
    }

    /// Serves until the process ends, each connection on a thread of its own, within
    /// `opts.limits`.
    pub fn run(self) {
        self.shared.feed.start();
        conn::serve(&self.listener, &self.shared);
    }
}
