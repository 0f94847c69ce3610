//! The kube client's HTTP stack, built as kube-rs builds it from a `Config` (base URI, retry of
//! 429/503/504, the kubeconfig's credentials, extra headers, rustls with timeouts), with two
//! additions an upgrade that outlives its tokens needs:
//!
//! - it notices each time the credentials kube-rs sends change (the exec plugin ran again, the
//!   token file was re-read), so the journal records every renewal, not only the ones forced by
//!   a 401. Only a keyed hash of the header is kept, never the token.
//! - its credentials can be replaced in place ([`Credentials::replace`]): the same `Client` then
//!   sends with the new ones, so every watch resumes from its own resourceVersion and every log
//!   stream from its own line, instead of being opened again with a fresh list.
//!
//! kube-rs offers no hook between its authentication layer and the connection, hence the copy
//! of its stack; `ClientBuilder::with_layer` only wraps the outside, before the credentials are set.

use std::hash::{BuildHasher as _, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ConfigExt as _};
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt as _};

type Stack = BoxCloneSyncService<Request<Body>, Response<hyper::body::Incoming>, BoxError>;

/// The credentials of one client: how often they were renewed, and how to replace them.
#[derive(Clone)]
pub struct Credentials(Arc<Shared>);

struct Shared {
    stack: Mutex<Stack>,
    /// Counts the stacks this client has had: requests of a replaced one are not counted.
    generation: AtomicU64,
    sent: Arc<Sent>,
}

/// What the stacks report of the credentials they send.
struct Sent {
    /// The generation and keyed hash of the credentials last sent.
    last: Mutex<Option<(u64, u64)>>,
    hash_key: RandomState,
    /// How many times the credentials sent have changed within one generation.
    renewals: tokio::sync::watch::Sender<u64>,
}

/// A client for `config`, and the handle on its credentials.
pub fn client(config: Config) -> kube::Result<(Client, Credentials)> {
    let sent = Arc::new(Sent {
        last: Mutex::new(None),
        hash_key: RandomState::new(),
        renewals: tokio::sync::watch::Sender::new(0),
    });
    let shared = Arc::new(Shared {
        stack: Mutex::new(stack(&config, 0, sent.clone())?),
        generation: AtomicU64::new(0),
        sent,
    });
    let client = Client::new(Current(shared.clone()), config.default_namespace.clone());
    Ok((client, Credentials(shared)))
}

impl Credentials {
    /// How many times the credentials sent have changed since the client was made (each run of
    /// the exec plugin that gave a new token, each re-read token file), not counting
    /// replacements; to wait on (`changed()` misses none).
    pub fn watch_renewals(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.sent.renewals.subscribe()
    }

    /// How many times the credentials were replaced: a failure seen under an older generation
    /// is about credentials no longer in use.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::SeqCst)
    }

    /// Sends every later request with the credentials (and connection settings) of `config`,
    /// read again from the kubeconfig: its exec plugin runs anew on the next request.
    pub fn replace(&self, config: &Config) -> kube::Result<()> {
        let generation = self.generation() + 1;
        let stack = stack(config, generation, self.0.sent.clone())?;
        self.0.generation.store(generation, Ordering::SeqCst);
        match self.0.stack.lock() {
            Ok(mut current) => *current = stack,
            Err(poisoned) => *poisoned.into_inner() = stack,
        }
        Ok(())
    }
}

impl Sent {
    /// Called with the credentials of each request sent by stack `generation`.
    fn note(&self, generation: u64, credentials: &[u8]) {
        let hash = self.hash_key.hash_one(credentials);
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let renewed = match *last {
            Some((last_generation, _)) if generation < last_generation => return,
            Some((last_generation, last_hash)) => {
                last_generation == generation && last_hash != hash
            }
            None => false,
        };
        *last = Some((generation, hash));
        drop(last);
        if renewed {
            self.renewals.send_modify(|count| *count += 1);
        }
    }
}

/// kube-rs's stack for `config` (see `kube_client::client::builder`), with the credentials
/// noted in `sent` between the layer that sets them and the connection.
fn stack(config: &Config, generation: u64, sent: Arc<Sent>) -> kube::Result<Stack> {
    if let Some(proxy) = &config.proxy_url {
        // As kube-rs built without its proxy features answers.
        return Err(kube::Error::ProxyProtocolDisabled {
            proxy_url: Box::new(proxy.clone()),
            protocol_feature: "kube/http-proxy",
        });
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let https = config.rustls_https_connector_with_connector(http)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let connection =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(NoticeLayer { sent, generation })
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(connection);
    Ok(BoxCloneSyncService::new(service))
}

/// The service the `Client` holds: each request goes to the stack installed at the time.
struct Current(Arc<Shared>);

impl Service<Request<Body>> for Current {
    type Response = Response<hyper::body::Incoming>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the installed stack's, awaited per request below: the stack may be
        // replaced between this call and the next.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let stack = match self.0.stack.lock() {
            Ok(stack) => stack.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Box::pin(stack.oneshot(request))
    }
}

#[derive(Clone)]
struct NoticeLayer {
    sent: Arc<Sent>,
    generation: u64,
}

impl<S> Layer<S> for NoticeLayer {
    type Service = Notice<S>;

    fn layer(&self, inner: S) -> Notice<S> {
        Notice {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Notice<S> {
    inner: S,
    layer: NoticeLayer,
}

impl<S: Service<Request<Body>>> Service<Request<Body>> for Notice<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> S::Future {
        if let Some(sent) = request.headers().get(AUTHORIZATION) {
            self.layer.sent.note(self.layer.generation, sent.as_bytes());
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("http://127.0.0.1:9".parse().expect("a URI"))
    }

    fn sent(credentials: &Credentials, generation: u64, header: &str) {
        credentials.0.sent.note(generation, header.as_bytes());
    }

    impl Credentials {
        fn renewals(&self) -> u64 {
            *self.0.sent.renewals.borrow()
        }
    }

    #[tokio::test]
    async fn a_changed_token_is_a_renewal() {
        let (_client, credentials) = client(config()).expect("a client");
        let mut renewals = credentials.watch_renewals();
        sent(&credentials, 0, "Bearer first-token");
        sent(&credentials, 0, "Bearer first-token");
        assert_eq!(
            credentials.renewals(),
            0,
            "the first token is not a renewal"
        );
        sent(&credentials, 0, "Bearer second-token");
        assert_eq!(credentials.renewals(), 1);
        renewals.changed().await.expect("told");
        sent(&credentials, 0, "Bearer second-token");
        sent(&credentials, 0, "Bearer third-token");
        assert_eq!(credentials.renewals(), 2);
        assert_eq!(*renewals.borrow_and_update(), 2);
    }

    #[tokio::test]
    async fn replaced_credentials_are_not_a_renewal_and_the_old_stack_s_requests_are_ignored() {
        let (_client, credentials) = client(config()).expect("a client");
        sent(&credentials, 0, "Bearer refused-token");
        credentials.replace(&config()).expect("replaced");
        assert_eq!(credentials.generation(), 1);
        sent(&credentials, 1, "Bearer new-token");
        // A request the old stack sent before the replacement, seen after it.
        sent(&credentials, 0, "Bearer refused-token");
        sent(&credentials, 1, "Bearer new-token");
        assert_eq!(credentials.renewals(), 0);
        sent(&credentials, 1, "Bearer newer-token");
        assert_eq!(credentials.renewals(), 1);
    }
}
