//! A metadata-service emulator for the datasource tests: an axum server on a free
//! 127.0.0.1 port, in its own thread and runtime, answering each request with what the test's
//! `route` function says (a body, a status, a slow drip, a huge body) and recording every
//! request (method, path, headers). Dropping it stops the server and joins the thread.
//! Also the one way the datasource tests run kindling ([`run_clean`]: none of the test
//! machine's proxy or `COREOS_*` variables) and the node root they start from ([`node_root`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};

/// One request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
}

/// What to answer.
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// This status, empty body.
    Status(u16),
    /// 200, one byte every `every`, forever (a slow drip).
    Drip(Duration),
    /// 200 with `n` bytes of `a`.
    Huge(usize),
}

pub fn text(s: &str) -> Reply {
    Reply::Body(s.as_bytes().to_vec())
}

type Route = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct Emulator {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Start a server; `route(request, n)` gets the request and how many earlier requests
    /// had the same method and path.
    pub fn start(route: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Emulator {
        let route: Arc<Route> = Arc::new(route);
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let seen2 = Arc::clone(&seen);
        let thread = super::process::spawn_runtime(move || async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move |req: Request<Body>| {
                let route = Arc::clone(&route);
                let seen = Arc::clone(&seen2);
                async move {
                    let s = Seen {
                        method: req.method().to_string(),
                        path: req.uri().path().to_string(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect(),
                    };
                    let n = {
                        let mut all = seen.lock().unwrap();
                        let n = all
                            .iter()
                            .filter(|x| x.method == s.method && x.path == s.path)
                            .count();
                        all.push(s.clone());
                        n
                    };
                    answer(route(&s, n))
                }
            });
            // Not a graceful shutdown: a drip answer never ends, and dropping the runtime
            // cancels every connection task.
            tokio::select! {
                r = axum::serve(listener, app) => r.unwrap(),
                _ = rx => {}
            }
        });
        Emulator {
            url,
            seen,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(reply: Reply) -> Response<Body> {
    match reply {
        Reply::Body(b) => Response::new(Body::from(b)),
        Reply::Status(s) => Response::builder()
            .status(StatusCode::from_u16(s).unwrap())
            .body(Body::empty())
            .unwrap(),
        Reply::Huge(n) => Response::new(Body::from(vec![b'a'; n])),
        Reply::Drip(every) => Response::new(Body::from_stream(Drip::new(every))),
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An endless body of single bytes, one per `every` (a slow drip).
struct Drip {
    every: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Drip {
    fn new(every: Duration) -> Self {
        Drip {
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl futures_core::Stream for Drip {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let next = tokio::time::Instant::now() + self.every;
                self.sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(b"{".to_vec())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What a run of kindling printed and how it ended.
pub struct Out {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `program` without the test machine's proxy settings (every request must stay on
/// loopback, straight to the emulator) or `COREOS_*` values (the metadata must be the only
/// source of `$private_ipv4` & co. unless a test sets them in the root).
pub fn run_clean(program: &std::path::Path, args: &[&str]) -> Out {
    let started = Instant::now();
    let out = std::process::Command::new(program)
        .args(args)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("COREOS_PUBLIC_IPV4")
        .env_remove("COREOS_PRIVATE_IPV4")
        .env_remove("COREOS_PUBLIC_IPV6")
        .env_remove("COREOS_PRIVATE_IPV6")
        .output()
        .unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// [`run_clean`] on the kindling binary under test.
pub fn kindling(args: &[&str]) -> Out {
    run_clean(std::path::Path::new(env!("CARGO_BIN_EXE_kindling")), args)
}

/// A node root with a `core` user (its passwd and group), under target/.
pub fn node_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("etc/group"), "root:x:0:\ncore:x:500:\n").unwrap();
    dir
}
