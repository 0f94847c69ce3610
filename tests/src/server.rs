//! The HTTP side: routing of Kubernetes REST paths, CRUD, list, watch, logs, discovery, access
//! reviews, and the scenario's faults.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::StreamExt as _;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::auth::{self, TokenPlugin, Tokens};
use crate::controllers;
use crate::patch;
use crate::protobuf;
use crate::resources::{self, Resource, RESOURCES};
use crate::scenario::{AuthSpec, OutageAnchor, OutageMode, Scenario};
use crate::seed::{self, Naming};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{metadata_mut, str_at, ApiError, EventType, Store, WatchEvent};
use crate::table::{self, IncludeObject};
use crate::tls::ServerTls;

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// Divides every scripted delay: 600 runs a ten-minute upgrade in one second.
    pub time_scale: f64,
    /// Turns on token authentication with this token lifetime (simulated seconds), over the
    /// scenario's `auth.token_ttl_s`.
    pub token_ttl_s: Option<f64>,
    /// The `kube-sim` binary the kubeconfig names as its exec credential plugin (default: `kube-sim`
    /// on `PATH`); only used when authentication is on.
    pub token_plugin: Option<std::path::PathBuf>,
    /// Serve HTTPS with a certificate from a fresh CA, which the kubeconfig carries.
    pub tls: bool,
    /// Real time added before every answer (a distant API server), whatever the time scale;
    /// the scenario's own `latency_ms` is simulated time and scales.
    pub latency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_scale: 1.0,
            token_ttl_s: None,
            token_plugin: None,
            tls: false,
            latency: Duration::ZERO,
        }
    }
}

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub watch: bool,
}

#[derive(Default)]
struct PodLog {
    lines: Vec<String>,
    finished: bool,
}

/// State shared by the server, its controllers and the [`Sim`] handle.
pub struct Shared {
    pub scenario: Scenario,
    pub store: Mutex<Store>,
    scale: f64,
    latency: Duration,
    started: Instant,
    logs: Mutex<HashMap<(String, String), PodLog>>,
    logs_changed: watch::Sender<u64>,
    requests: Mutex<Vec<RequestRecord>>,
    fault_matches: Mutex<Vec<u64>>,
    upgrade_job_created: Mutex<Option<Instant>>,
    naming: Mutex<Naming>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    address: Mutex<String>,
    events: std::sync::atomic::AtomicU64,
    tokens: Tokens,
    token_plugin: String,
    /// The token service's URL, when the scenario has authentication.
    token_service: Mutex<Option<String>>,
}

impl Shared {
    /// Sleeps for a scripted (simulated) number of seconds.
    pub async fn sleep(&self, simulated_seconds: f64) {
        if simulated_seconds > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(simulated_seconds / self.scale)).await;
        }
    }

    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    pub fn suffix(&self, length: usize) -> String {
        self.naming.lock().expect("naming lock").suffix(length)
    }

    pub fn pod_ip(&self) -> String {
        self.naming.lock().expect("naming lock").pod_ip()
    }

    /// A fresh number for an Event name suffix.
    pub fn event_counter(&self) -> u64 {
        self.events
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn mark_upgrade_job_created(&self) {
        *self.upgrade_job_created.lock().expect("lock") = Some(Instant::now());
    }

    pub fn default_storage_class(&self) -> Option<String> {
        let store = self.store.lock().expect("store lock");
        let classes = Resource::by_kind("storage.k8s.io/v1", "StorageClass")?;
        let found = store
            .range(classes, None, None)
            .find(|c| {
                [
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ]
                .iter()
                .any(|a| {
                    c.pointer(&format!("/metadata/annotations/{}", a.replace('/', "~1")))
                        == Some(&json!("true"))
                })
            })
            .map(|c| str_at(c, "/metadata/name"));
        found
    }

    /// Changes a stored object in place; `change` returns false to leave it alone. False when gone.
    pub fn modify(
        &self,
        served: &Resource,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value) -> bool,
    ) -> bool {
        let mut store = self.store.lock().expect("store lock");
        let Some(mut object) = store.get(served, namespace, name).cloned() else {
            return false;
        };
        if !change(&mut object) {
            return false;
        }
        store.update(served, object).is_ok()
    }

    pub fn logs_open(&self, namespace: &str, pod: &str) {
        self.logs
            .lock()
            .expect("logs lock")
            .insert((namespace.into(), pod.into()), PodLog::default());
    }

    pub fn log_line(&self, namespace: &str, pod: &str, line: String) {
        if let Some(log) = self
            .logs
            .lock()
            .expect("logs lock")
            .get_mut(&(namespace.into(), pod.into()))
        {
            log.lines.push(line);
        }
        self.logs_changed.send_modify(|n| *n += 1);
    }

    pub fn logs_close(&self, namespace: &str, pod: &str) {
        if let Some(log) = self
            .logs
            .lock()
            .expect("logs lock")
            .get_mut(&(namespace.into(), pod.into()))
        {
            log.finished = true;
        }
        self.logs_changed.send_modify(|n| *n += 1);
    }

    fn outage_now(&self) -> Option<OutageMode> {
        let outage = self.scenario.faults.api_unavailable.as_ref()?;
        self.window_open(outage.anchor, outage.from_s, Some(outage.for_s))
            .then_some(outage.mode)
    }

    /// Whether a window of simulated time (from `from_s` after `anchor`, `for_s` long) is open now.
    fn window_open(&self, anchor: OutageAnchor, from_s: f64, for_s: Option<f64>) -> bool {
        let anchor = match anchor {
            OutageAnchor::Start => self.started,
            OutageAnchor::UpgradeJob => match *self.upgrade_job_created.lock().expect("lock") {
                Some(created) => created,
                None => return false,
            },
        };
        let simulated = anchor.elapsed().as_secs_f64() * self.scale;
        simulated >= from_s && for_s.is_none_or(|length| simulated < from_s + length)
    }

    /// Whether the exec plugin gets a token now.
    fn token_plugin_works(&self) -> bool {
        match self.tokens.plugin() {
            TokenPlugin::Working => true,
            TokenPlugin::Failing => false,
            TokenPlugin::AsScenario => !self
                .scenario
                .auth
                .as_ref()
                .and_then(|auth| auth.plugin_fails.as_ref())
                .is_some_and(|w| self.window_open(w.anchor, w.from_s, w.for_s)),
        }
    }
}

/// A running simulator.
pub struct Sim {
    shared: Arc<Shared>,
    address: SocketAddr,
    tls: Option<ServerTls>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Sim {
    pub async fn start(mut scenario: Scenario, options: Options) -> anyhow::Result<Sim> {
        use anyhow::Context;
        // A scenario changed after it was read (a test's `fail_at`) is resolved here.
        scenario.resolve_scripts()?;
        if let Some(ttl) = options.token_ttl_s {
            anyhow::ensure!(
                ttl > 0.0 && ttl.is_finite(),
                "the token lifetime must be positive, not {ttl}"
            );
            match &mut scenario.auth {
                Some(auth) => auth.token_ttl_s = ttl,
                None => {
                    scenario.auth = Some(AuthSpec {
                        token_ttl_s: ttl,
                        plugin_fails: None,
                    })
                }
            }
        }
        anyhow::ensure!(
            options.listen.ip().is_loopback(),
            "kube-sim only listens on loopback addresses, not {}",
            options.listen
        );
        let scale = options.time_scale * scenario.time_scale;
        anyhow::ensure!(
            scale > 0.0 && scale.is_finite(),
            "time scale must be positive, not {scale}"
        );
        let seed = scenario
            .name
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let mut naming = Naming::new(seed);
        let objects = seed::initial_objects(&scenario, &mut naming)
            .map_err(|e| anyhow::anyhow!("scenario {}: {e}", scenario.name))?;
        let mut store = Store::new(
            scenario
                .faults
                .gone_on_old_resource_version
                .as_ref()
                .map(|g| g.keep_last_events),
        );
        for (served, object) in objects {
            store
                .create(served, object)
                .map_err(|e| anyhow::anyhow!("scenario {}: {}", scenario.name, e.message))?;
        }
        store.compact();
        let (logs_changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            scenario,
            store: Mutex::new(store),
            scale,
            latency: options.latency,
            started: Instant::now(),
            logs: Mutex::new(HashMap::new()),
            logs_changed,
            requests: Mutex::new(Vec::new()),
            fault_matches: Mutex::new(Vec::new()),
            upgrade_job_created: Mutex::new(None),
            naming: Mutex::new(naming),
            tasks: Mutex::new(Vec::new()),
            address: Mutex::new(String::new()),
            events: std::sync::atomic::AtomicU64::new(0x161c_2b5e_0000_0000),
            tokens: Tokens::default(),
            token_plugin: options
                .token_plugin
                .as_ref()
                .map_or_else(|| "kube-sim".to_string(), |p| p.display().to_string()),
            token_service: Mutex::new(None),
        });
        // Give the seeded service accounts their tokens as the token controller would.
        let accounts: Vec<Value> = {
            let store = shared.store.lock().expect("store lock");
            let sa = Resource::by_kind("v1", "ServiceAccount").expect("served");
            store.range(sa, None, None).cloned().collect()
        };
        for account in accounts {
            controllers::after_create(
                &shared,
                Resource::by_kind("v1", "ServiceAccount").expect("served"),
                &account,
            );
        }
        shared.store.lock().expect("store lock").compact();

        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let address = listener.local_addr()?;
        *shared.address.lock().expect("lock") = address.to_string();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (shutdown, shutdown_signal) = tokio::sync::oneshot::channel::<()>();
        let tls = if options.tls {
            Some(ServerTls::generate().context("cannot make the TLS certificate")?)
        } else {
            None
        };
        if shared.scenario.auth.is_some() {
            let tokens = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .context("cannot listen for the token service")?;
            *shared.token_service.lock().expect("lock") =
                Some(format!("http://{}", tokens.local_addr()?));
            let service = Router::new()
                .fallback(issue_token)
                .with_state(shared.clone());
            shared.spawn(async move {
                let _ = axum::serve(tokens, service).await;
            });
        }
        let (handshaken_tx, handshaken) = mpsc::unbounded_channel();
        let listener = OutageListener {
            inner: Some(listener),
            address,
            shared: shared.clone(),
            tls: tls.as_ref().map(|tls| tls.acceptor.clone()),
            handshaken_tx,
            handshaken,
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_signal.await;
                })
                .await;
        });
        Ok(Sim {
            shared,
            address,
            tls,
            shutdown: Some(shutdown),
            server,
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The CA certificate (PEM) that signed the server's, when it serves HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_str())
    }

    /// The kubeconfig entry that reaches this simulator under `name`: its URL, the CA when it
    /// serves HTTPS, and the exec credential plugin when it requires tokens.
    pub fn kubeconfig_context(&self, name: &str) -> KubeconfigContext {
        let token_service = self.shared.token_service.lock().expect("lock").clone();
        KubeconfigContext {
            name: name.to_string(),
            server: self.url(),
            authority_pem: self.ca_pem().map(str::to_string),
            exec_user: token_service
                .map(|service| auth::exec_user_yaml(&self.shared.token_plugin, &service)),
        }
    }

    pub fn kubeconfig_yaml(&self) -> String {
        fleet_kubeconfig(&[self.kubeconfig_context("kube-sim")])
    }

    /// Makes the exec plugin work, or fail, from now on whatever the scenario says; or follow the
    /// scenario again.
    pub fn set_token_plugin(&self, plugin: TokenPlugin) {
        self.shared.tokens.set_plugin(plugin);
    }

    /// Revokes every token issued so far (streams already open go on, as on a real API server).
    pub fn revoke_tokens(&self) {
        self.shared.tokens.revoke_all();
    }

    /// How many times the exec plugin asked for a token (each is in the request log too).
    pub fn token_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == auth::TOKEN_PATH)
            .count()
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// A stored object, by apiVersion and kind (`"batch/v1"`, `"Job"`).
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let served = Resource::by_kind(api_version, kind)?;
        let namespace = if served.namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        };
        self.shared
            .store
            .lock()
            .expect("store lock")
            .get(served, namespace, name)
            .cloned()
    }

    /// Stored objects of a kind, in one namespace or (with `None`) all.
    pub fn objects(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(served) = Resource::by_kind(api_version, kind) else {
            return Vec::new();
        };
        let store = self.shared.store.lock().expect("store lock");
        store
            .range(served, namespace.filter(|_| served.namespaced), None)
            .cloned()
            .collect()
    }

    /// The log a pod has written so far.
    pub fn pod_log(&self, namespace: &str, pod: &str) -> Option<Vec<String>> {
        self.shared
            .logs
            .lock()
            .expect("logs lock")
            .get(&(namespace.to_string(), pod.to_string()))
            .map(|l| l.lines.clone())
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for task in self.shared.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in self.shared.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
        self.server.abort();
    }
}

/// One context of a kubeconfig: its server, the CA to trust it with (PEM), and the `user:` body
/// (indented YAML) when it needs credentials.
#[derive(Clone, Debug, Default)]
pub struct KubeconfigContext {
    pub name: String,
    pub server: String,
    pub authority_pem: Option<String>,
    pub exec_user: Option<String>,
}

impl KubeconfigContext {
    /// A context for a plain-HTTP server without credentials (a closed port, a silent server).
    pub fn plain(name: &str, server: &str) -> KubeconfigContext {
        KubeconfigContext {
            name: name.to_string(),
            server: server.to_string(),
            ..KubeconfigContext::default()
        }
    }
}

/// A kubeconfig with these contexts, each with its own cluster and user entry of the same name
/// and namespace `default`; the first is the current context.
pub fn fleet_kubeconfig(contexts: &[KubeconfigContext]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut named = String::new();
    for context in contexts {
        let name = &context.name;
        let authority = context
            .authority_pem
            .as_ref()
            .map(|pem| {
                format!(
                    "    certificate-authority-data: {}\n",
                    base64::engine::general_purpose::STANDARD.encode(pem)
                )
            })
            .unwrap_or_default();
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n{authority}",
            context.server
        ));
        match (&context.exec_user, &context.authority_pem) {
            (Some(user), _) => users.push_str(&format!("- name: {name}\n  user:\n{user}")),
            // Over HTTPS kubectl (1.20) asks for a user name and password on the terminal when
            // the user has no credentials; a bearer token, which kube-sim without `auth` does
            // not check, stops that.
            (None, Some(_)) => {
                users.push_str(&format!("- name: {name}\n  user:\n    token: kube-sim\n"))
            }
            (None, None) => users.push_str(&format!("- name: {name}\n  user: {{}}\n")),
        }
        named.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: default\n"
        ));
    }
    let current = contexts.first().map_or("", |context| context.name.as_str());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{named}current-context: {current}\npreferences: {{}}\n"
    )
}

/// A server that accepts connections and never answers: an API server stuck behind a load
/// balancer, the case a per-cluster timeout exists for. Connections are held until it is dropped.
pub struct Silent {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> std::io::Result<Silent> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Ok(Silent { address, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The URL of a loopback port nothing listens on (bound, then closed): connecting is refused.
pub fn closed_port_url() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(format!("http://{}", listener.local_addr()?))
}

/// Accepts connections, except during a `reset` outage (they are closed at once) or a `refuse`
/// outage (the listening socket is closed, so connecting is refused, and opened again after).
struct OutageListener {
    inner: Option<tokio::net::TcpListener>,
    address: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Connections whose TLS handshake ended, each made in its own task so that a slow client
    /// holds up nobody else.
    handshaken_tx: mpsc::UnboundedSender<(Connection, SocketAddr)>,
    handshaken: mpsc::UnboundedReceiver<(Connection, SocketAddr)>,
}

type Connection = tokio_util::either::Either<
    tokio::net::TcpStream,
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
>;

impl axum::serve::Listener for OutageListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok(ready) = self.handshaken.try_recv() {
                return ready;
            }
            let outage = self.shared.outage_now();
            if outage == Some(OutageMode::Refuse) {
                self.inner = None;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let listener = match &self.inner {
                Some(listener) => listener,
                None => match tokio::net::TcpListener::bind(self.address).await {
                    Ok(listener) => self.inner.insert(listener),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                },
            };
            // Wake up now and then: a refuse window may open while nobody connects.
            let accepted = tokio::select! {
                accepted = tokio::time::timeout(Duration::from_millis(20), listener.accept()) => accepted,
                Some(ready) = self.handshaken.recv() => return ready,
            };
            match accepted {
                Ok(Ok((stream, address))) => {
                    if self.shared.outage_now() == Some(OutageMode::Reset) {
                        drop(stream);
                        continue;
                    }
                    let Some(acceptor) = self.tls.clone() else {
                        return (tokio_util::either::Either::Left(stream), address);
                    };
                    let handshaken = self.handshaken_tx.clone();
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                        if let Ok(Ok(stream)) = handshake.await {
                            let _ = handshaken
                                .send((tokio_util::either::Either::Right(stream), address));
                        }
                    });
                }
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(_) => {}
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.address)
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut response = Response::new(Body::from(
        serde_json::to_vec(body).expect("JSON serialises"),
    ));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

/// A 200 answer with an already serialised JSON body.
fn json_bytes_response(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn error_response(error: &ApiError) -> Response {
    json_response(error.code, &error.status_body())
}

type Query = HashMap<String, String>;

/// A path under `/api/v1` or `/apis/{group}/{version}` naming a resource.
struct ResourcePath {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
    legacy_watch: bool,
}

enum Route {
    Version,
    CoreVersions,
    Groups,
    ResourceList(String, String),
    OpenApiV2,
    /// `/api/v1/namespaces/NS/services/NAME[:PORT]/proxy/PATH`
    ServiceProxy {
        namespace: String,
        service: String,
        path: String,
    },
    Resource(ResourcePath),
    NotFound,
}

fn parse_route(path: &str) -> Route {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["openapi", "v2"] => return Route::OpenApiV2,
        ["api", "v1", "namespaces", namespace, "services", service, "proxy", ..] => {
            let prefix = format!("/services/{service}/proxy");
            let rest = path
                .find(&prefix)
                .map_or("", |at| &path[at + prefix.len()..]);
            return Route::ServiceProxy {
                namespace: namespace.to_string(),
                service: service.to_string(),
                path: if rest.is_empty() { "/" } else { rest }.to_string(),
            };
        }
        ["api", version] => return Route::ResourceList(String::new(), version.to_string()),
        ["apis", group, version] => {
            return Route::ResourceList(group.to_string(), version.to_string())
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::NotFound,
    };
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, resource, rest @ ..]
            if Resource::find(group, version, resource).is_some_and(|r| r.namespaced) =>
        {
            (
                Some(namespace.to_string()),
                &[&[*resource][..], rest].concat()[..],
            )
        }
        rest => (None, rest),
    };
    let Some(resource) = rest.first().and_then(|r| Resource::find(group, version, r)) else {
        return Route::NotFound;
    };
    if rest.len() > 3 {
        return Route::NotFound;
    }
    Route::Resource(ResourcePath {
        resource,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
        legacy_watch,
    })
}

fn parse_query(query: &str) -> Query {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The RBAC verb of a request.
fn verb_of(method: &Method, path: &ResourcePath, query: &Query) -> &'static str {
    let watch =
        path.legacy_watch || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    match *method {
        Method::GET if watch => "watch",
        Method::GET if path.name.is_none() => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if path.name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "get",
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let raw_query = request.uri().query().unwrap_or("").to_string();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 64 << 20)
        .await
        .unwrap_or_default();
    let query = parse_query(&raw_query);
    let route = parse_route(&path);
    let watch = match &route {
        Route::Resource(p) => verb_of(&method, p, &query) == "watch",
        _ => false,
    };

    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let faults = &shared.scenario.faults;
    if faults.latency_ms > 0 {
        shared.sleep(faults.latency_ms as f64 / 1000.0).await;
    }
    let authenticated = authenticate(&shared, &headers);
    let response = if let Err(unauthorized) = &authenticated {
        error_response(unauthorized)
    } else if shared.outage_now().is_some() {
        error_response(&ApiError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ))
    } else if let Some(status) = injected_fault(&shared, &method, &path) {
        let reason = match status {
            500 => "InternalError",
            503 => "ServiceUnavailable",
            429 => "TooManyRequests",
            504 => "Timeout",
            403 => "Forbidden",
            _ => "InternalError",
        };
        error_response(&ApiError::new(
            status,
            reason,
            format!("kube-sim injected fault: {status} for {method} {path}"),
        ))
    } else {
        route_request(&shared, route, &method, &query, &headers, body).await
    };
    // A stream opened with a token ends when the token expires: authentication happens once per
    // request, and the client's next request has to bring a fresh token.
    let response = match authenticated {
        Ok(Some(expires)) => response.map(|body| {
            Body::from_stream(
                body.into_data_stream()
                    .take_until(tokio::time::sleep_until(expires.into())),
            )
        }),
        _ => response,
    };
    shared
        .requests
        .lock()
        .expect("requests lock")
        .push(RequestRecord {
            method: method.to_string(),
            path,
            query: raw_query,
            status: response.status().as_u16(),
            watch,
        });
    response
}

/// When the request's bearer token expires; `None` when the scenario has no authentication.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Option<Instant>, ApiError> {
    if shared.scenario.auth.is_none() {
        return Ok(None);
    }
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(auth::bearer)
        .and_then(|token| shared.tokens.valid_until(token))
        .map(Some)
        .ok_or_else(|| ApiError::new(401, "Unauthorized", "Unauthorized"))
}

/// The token service, on its own plain-HTTP port as a cloud's token service (STS) is apart from the
/// API server: a new token for the exec plugin, or 403 while the plugin is made to fail. Each
/// request is in the request log under [`auth::TOKEN_PATH`].
async fn issue_token(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let response = match &shared.scenario.auth {
        _ if request.uri().path() != auth::TOKEN_PATH || request.method() != Method::POST => {
            error_response(&ApiError::new(404, "NotFound", "the token service answers POST /kube-sim/token only"))
        }
        None => error_response(&ApiError::new(404, "NotFound", "no authentication")),
        Some(_) if !shared.token_plugin_works() => error_response(&ApiError::new(
            403,
            "Forbidden",
            "kube-sim: the plugin's own credentials have expired (scripted failure); no token issued",
        )),
        Some(auth) => {
            let ttl = Duration::from_secs_f64(auth.token_ttl_s / shared.scale);
            let (token, expires) = shared.tokens.issue(ttl, &shared.suffix(5));
            json_response(200, &auth::exec_credential(&token, expires))
        }
    };
    shared
        .requests
        .lock()
        .expect("requests lock")
        .push(RequestRecord {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: String::new(),
            status: response.status().as_u16(),
            watch: false,
        });
    response
}

fn injected_fault(shared: &Shared, method: &Method, path: &str) -> Option<u16> {
    let faults = &shared.scenario.faults.requests;
    if faults.is_empty() {
        return None;
    }
    let mut matches = shared.fault_matches.lock().expect("fault lock");
    matches.resize(faults.len(), 0);
    let mut answer = None;
    for (index, fault) in faults.iter().enumerate() {
        let when = &fault.when;
        let method_ok = when
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()));
        let path_ok = when
            .path_prefix
            .as_deref()
            .is_none_or(|p| path.starts_with(p));
        if !(method_ok && path_ok) {
            continue;
        }
        let seen = matches[index];
        matches[index] += 1;
        let active = seen >= when.after_requests
            && when.count.is_none_or(|c| seen < when.after_requests + c);
        if active && answer.is_none() {
            answer = Some(fault.respond);
        }
    }
    answer
}

async fn route_request(
    shared: &Arc<Shared>,
    route: Route,
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match route {
        Route::Version => version(shared),
        Route::CoreVersions => json_response(
            200,
            &json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": *shared.address.lock().expect("lock")}],
            }),
        ),
        Route::Groups => groups(),
        Route::ResourceList(group, version) => resource_list(&group, &version),
        Route::OpenApiV2 => {
            // An empty document: enough for kubectl's client-side validation to pass.
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response
        }
        Route::ServiceProxy {
            namespace,
            service,
            path,
        } => service_proxy(shared, method, &namespace, &service, &path),
        Route::NotFound => error_response(&ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )),
        Route::Resource(path) => {
            match resource_request(shared, &path, method, query, headers, body).await {
                Ok(response) => response,
                Err(error) => error_response(&error),
            }
        }
    }
}

/// The service proxy: the scenario's scripted answers ([`crate::proxy`]).
fn service_proxy(
    shared: &Shared,
    method: &Method,
    namespace: &str,
    service: &str,
    path: &str,
) -> Response {
    if *method != Method::GET {
        return error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            "kube-sim's service proxy answers GET only",
        ));
    }
    let upgraded = shared.upgrade_job_created.lock().expect("lock").is_some();
    match crate::proxy::answer(
        &shared.scenario.services,
        upgraded,
        namespace,
        service,
        path,
    ) {
        crate::proxy::Proxied::Backend(status, body) => {
            let json = body.trim_start().starts_with('{');
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static(if json {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                }),
            );
            response
        }
        crate::proxy::Proxied::Status(code, reason, message) => {
            error_response(&ApiError::new(code, reason, message))
        }
    }
}

fn version(shared: &Shared) -> Response {
    let server = &shared.scenario.server;
    let (major, minor) = server.major_minor();
    json_response(
        200,
        &json!({
            "major": major, "minor": minor, "gitVersion": server.git_version, "gitCommit": server.git_commit,
            "gitTreeState": "clean", "buildDate": server.build_date, "goVersion": server.go_version,
            "compiler": "gc", "platform": server.platform,
        }),
    )
}

fn groups() -> Response {
    let groups: Vec<Value> = resources::groups()
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json_response(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

fn resource_list(group: &str, version: &str) -> Response {
    let mut entries = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                               "kind": r.kind, "verbs": r.verbs});
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        // The members of the `all` category (`kubectl get all`) on a real server.
        const ALL: &[&str] = &[
            "pods",
            "services",
            "daemonsets",
            "deployments",
            "replicasets",
            "statefulsets",
            "jobs",
            "cronjobs",
        ];
        if ALL.contains(&r.plural) {
            entry["categories"] = json!(["all"]);
        }
        entries.push(entry);
        for sub in r.subresources {
            let verbs: &[&str] = if *sub == "log" {
                &["get"]
            } else {
                &["get", "patch", "update"]
            };
            let kind = if *sub == "scale" { "Scale" } else { r.kind };
            entries.push(json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced,
                                "kind": kind, "verbs": verbs}));
        }
    }
    if entries.is_empty() {
        return json_response(
            404,
            &ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
            .status_body(),
        );
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json_response(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}),
    )
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

fn forbidden(
    resource: &Resource,
    verb: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> ApiError {
    let qualified = if resource.group.is_empty() {
        resource.plural.to_string()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    };
    let subject = name.map_or(qualified.clone(), |n| format!("{qualified} \"{n}\""));
    let scope = namespace.map_or("at the cluster scope".to_string(), |ns| {
        format!("in the namespace \"{ns}\"")
    });
    ApiError {
        details: Some(json!({"name": name.unwrap_or(""), "group": resource.group, "kind": resource.plural})),
        ..ApiError::new(403, "Forbidden", format!(
            "{subject} is forbidden: User \"kube-sim-user\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            resource.plural, resource.group
        ))
    }
}

/// Whether a rule's value and a question's value can name the same thing (`*` names all).
fn overlaps(rule: &str, asked: &str) -> bool {
    rule == "*" || asked == "*" || rule == asked
}

/// RBAC's escalation prevention: a ClusterRole (or Role) may grant only what its creator holds,
/// unless they may `escalate` roles. Under a scenario's deny list, a rule grants more than the
/// user holds when any deny rule takes part of it away (for a ClusterRole, in any namespace).
fn escalation(shared: &Shared, path: &ResourcePath, body: &[u8]) -> Option<ApiError> {
    let resource = path.resource;
    let cluster_role = match (resource.group, resource.plural) {
        ("rbac.authorization.k8s.io", "clusterroles") => true,
        ("rbac.authorization.k8s.io", "roles") => false,
        _ => return None,
    };
    let namespace = path.namespace.as_deref().unwrap_or("");
    if !denied(
        shared,
        "escalate",
        resource.group,
        resource.plural,
        namespace,
    ) {
        return None;
    }
    let role: Value = serde_json::from_slice(body).ok()?;
    let words = |rule: &Value, key: &str| -> Vec<String> {
        rule[key]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut not_held = Vec::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        let (groups, resources, verbs) = (
            words(rule, "apiGroups"),
            words(rule, "resources"),
            words(rule, "verbs"),
        );
        let escalates = shared.scenario.rbac.deny.iter().any(|deny| {
            verbs.iter().any(|v| overlaps(&deny.verb, v))
                && resources.iter().any(|r| overlaps(&deny.resource, r))
                && deny
                    .group
                    .as_deref()
                    .is_none_or(|g| groups.iter().any(|group| overlaps(g, group)))
                && (cluster_role
                    || deny
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| overlaps(ns, namespace)))
        });
        if escalates {
            let list = |values: &[String]| {
                values
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            not_held.push(format!(
                "{{APIGroups:[{}], Resources:[{}], Verbs:[{}]}}",
                list(&groups),
                list(&resources),
                list(&verbs)
            ));
        }
    }
    if not_held.is_empty() {
        return None;
    }
    let name = role["metadata"]["name"].as_str().unwrap_or_default();
    Some(ApiError {
        details: Some(json!({"name": name, "group": resource.group, "kind": resource.plural})),
        ..ApiError::new(
            403,
            "Forbidden",
            format!(
                "{}.{} \"{name}\" is forbidden: user \"kube-sim-user\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{}",
                resource.plural,
                resource.group,
                not_held.join("\n")
            ),
        )
    })
}

fn denied(shared: &Shared, verb: &str, group: &str, resource: &str, namespace: &str) -> bool {
    shared
        .scenario
        .rbac
        .deny
        .iter()
        .any(|rule| rule.matches(verb, group, resource, namespace))
}

async fn resource_request(
    shared: &Arc<Shared>,
    path: &ResourcePath,
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = path.resource;
    if resource.plural == "selfsubjectaccessreviews" {
        return if *method == Method::POST {
            access_review(shared, headers, &body)
        } else {
            Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ))
        };
    }
    let verb = verb_of(method, path, query);
    if denied(
        shared,
        verb,
        resource.group,
        resource.plural,
        path.namespace.as_deref().unwrap_or(""),
    ) {
        return Err(forbidden(
            resource,
            verb,
            path.namespace.as_deref(),
            path.name.as_deref(),
        ));
    }
    if matches!(*method, Method::POST | Method::PUT) {
        if let Some(refused) = escalation(shared, path, &body) {
            return Err(refused);
        }
    }
    let dry_run = query.contains_key("dryRun");
    match (
        method.clone(),
        path.name.as_deref(),
        path.subresource.as_deref(),
    ) {
        (Method::GET, _, _) if verb == "watch" => watch_objects(shared, path, query),
        (Method::GET, None, None) => list(shared, path, query, headers),
        (Method::GET, Some(name), None | Some("status")) => {
            let object = get(shared, path, name)?;
            if wants_table(headers) {
                let include = IncludeObject::parse(query.get("includeObject").map(String::as_str));
                let rv = str_at(&object, "/metadata/resourceVersion");
                return Ok(json_bytes_response(table::table(
                    resource,
                    &[&object],
                    include,
                    json!({"resourceVersion": rv}),
                )));
            }
            Ok(json_response(200, &object))
        }
        (Method::GET, Some(name), Some("log")) => pod_log(shared, path, name, query),
        (Method::POST, None, None) => {
            let object = create(shared, path, &body, dry_run)?;
            Ok(json_response(201, &object))
        }
        (Method::PUT, Some(name), sub @ (None | Some("status"))) => {
            let sent: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
            let object = write(shared, path, name, sub.is_some(), dry_run, |_| Ok(sent))?;
            Ok(json_response(200, &object))
        }
        (Method::PATCH, Some(name), sub @ (None | Some("status"))) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            patch_media_type(&content_type)?;
            let object = write(shared, path, name, sub.is_some(), dry_run, |current| {
                patched(current, &content_type, &body)
            })?;
            Ok(json_response(200, &object))
        }
        (Method::DELETE, Some(name), None) => {
            delete(shared, path, name, query, &body, dry_run).map(|o| json_response(200, &o))
        }
        (Method::DELETE, None, None) => {
            let names: Vec<String> = selected(shared, path, query)?
                .iter()
                .map(|o| str_at(o, "/metadata/name"))
                .collect();
            let mut deleted = Vec::new();
            for name in names {
                deleted.push(delete(shared, path, &name, query, &body, dry_run)?);
            }
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", resource.kind), "apiVersion": resource.api_version(),
                "metadata": {}, "items": deleted}),
            ))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn namespace_key(path: &ResourcePath) -> String {
    if path.resource.namespaced {
        path.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    }
}

fn get(shared: &Shared, path: &ResourcePath, name: &str) -> Result<Value, ApiError> {
    shared
        .store
        .lock()
        .expect("store lock")
        .get(path.resource, &namespace_key(path), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(path.resource, name))
}

fn selectors(query: &Query, kind: &str) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {}", e.0)))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str), kind)
        .map_err(|e| ApiError::bad_request(e.0))?;
    Ok((labels, fields))
}

fn selected(shared: &Shared, path: &ResourcePath, query: &Query) -> Result<Vec<Value>, ApiError> {
    let (labels, fields) = selectors(query, path.resource.kind)?;
    let store = shared.store.lock().expect("store lock");
    let namespace = path
        .namespace
        .as_deref()
        .filter(|_| path.resource.namespaced);
    Ok(store
        .range(path.resource, namespace, None)
        .filter(|o| labels.matches(o) && fields.matches(o))
        .cloned()
        .collect())
}

/// The opaque `continue` token: the list's resourceVersion and the last key served.
fn encode_continue(resource_version: u64, namespace: &str, name: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(json!({"rv": resource_version, "ns": namespace, "name": name}).to_string())
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    Some((
        value["rv"].as_u64()?,
        value["ns"].as_str()?.to_string(),
        value["name"].as_str()?.to_string(),
    ))
}

fn list(
    shared: &Shared,
    path: &ResourcePath,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(query, path.resource.kind)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let resume = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token).ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?),
        None => None,
    };
    let store = shared.store.lock().expect("store lock");
    let resource_version = resume.as_ref().map_or(store.resource_version(), |r| r.0);
    let namespace = path
        .namespace
        .as_deref()
        .filter(|_| path.resource.namespaced);
    let mut matching = store
        .range(
            path.resource,
            namespace,
            resume.map(|(_, ns, name)| (ns, name)),
        )
        .filter(|o| labels.matches(o) && fields.matches(o));
    let mut page: Vec<&Value> = Vec::new();
    let mut more = false;
    for object in matching.by_ref() {
        if limit.is_some_and(|l| page.len() >= l) {
            more = true;
            break;
        }
        page.push(object);
    }
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if more {
        let last = page.last().expect("a full page is not empty");
        metadata["continue"] = json!(encode_continue(
            resource_version,
            &str_at(last, "/metadata/namespace"),
            &str_at(last, "/metadata/name")
        ));
    }
    if wants_table(headers) {
        let include = IncludeObject::parse(query.get("includeObject").map(String::as_str));
        return Ok(json_bytes_response(table::table(
            path.resource,
            &page,
            include,
            metadata,
        )));
    }
    let list = ListBody {
        kind: format!("{}List", path.resource.kind),
        api_version: path.resource.api_version(),
        metadata,
        items: &page,
    };
    Ok(json_bytes_response(
        serde_json::to_vec(&list).expect("JSON serialises"),
    ))
}

/// A list response serialised straight from the stored objects (no copies): items carry no
/// apiVersion/kind, as the real server sends them.
struct ListBody<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [&'a Value],
}

struct WithoutTypeMeta<'a>(&'a Value);

impl serde::Serialize for ListBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("apiVersion", &self.api_version)?;
        map.serialize_entry("metadata", &self.metadata)?;
        let items: Vec<WithoutTypeMeta> = self.items.iter().map(|o| WithoutTypeMeta(o)).collect();
        map.serialize_entry("items", &items)?;
        map.end()
    }
}

impl serde::Serialize for WithoutTypeMeta<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(fields) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in fields
            .iter()
            .filter(|(k, _)| *k != "apiVersion" && *k != "kind")
        {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn create(
    shared: &Arc<Shared>,
    path: &ResourcePath,
    body: &[u8],
    dry_run: bool,
) -> Result<Value, ApiError> {
    let resource = path.resource;
    let mut object: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    if !object.is_object() {
        return Err(ApiError::bad_request("the body must be an object"));
    }
    let kind = str_at(&object, "/kind");
    if !kind.is_empty() && kind != resource.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            str_at(&object, "/apiVersion"),
            resource.api_version()
        )));
    }
    let namespace = namespace_key(path);
    {
        let meta = metadata_mut(&mut object);
        let body_namespace = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if resource.namespaced {
            if !body_namespace.is_empty() && body_namespace != namespace {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.remove("uid");
        meta.remove("resourceVersion");
        meta.remove("creationTimestamp");
        let has_name = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name {
            let generate = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if generate.is_empty() {
                return Err(ApiError::new(422, "Invalid", format!("{} \"\" is invalid: metadata.name: Required value: name or generateName is required", resource.kind)));
            }
            meta.insert(
                "name".into(),
                json!(format!("{generate}{}", shared.suffix(5))),
            );
        }
    }
    let name = str_at(&object, "/metadata/name");
    let mut store = shared.store.lock().expect("store lock");
    if resource.namespaced {
        let namespaces = Resource::by_kind("v1", "Namespace").expect("served");
        if store.get(namespaces, "", &namespace).is_none() {
            return Err(ApiError::not_found(namespaces, &namespace));
        }
    }
    if store.get(resource, &namespace, &name).is_some() {
        return Err(ApiError::already_exists(resource, &name));
    }
    let uid = store.next_uid();
    drop(store);
    controllers::defaults_on_create(shared, resource, &mut object, &uid)?;
    metadata_mut(&mut object).insert("uid".into(), json!(uid));
    if dry_run {
        metadata_mut(&mut object).insert(
            "creationTimestamp".into(),
            json!(crate::time::now_rfc3339()),
        );
        return Ok(object);
    }
    let created = shared
        .store
        .lock()
        .expect("store lock")
        .create(resource, object)?;
    controllers::after_create(shared, resource, &created);
    Ok(created)
}

/// The patch's media type; 415 for server-side apply, which 1.14 does not serve.
fn patch_media_type(content_type: &str) -> Result<&str, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media == "application/apply-patch+yaml" {
        return Err(ApiError::new(415, "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"));
    }
    Ok(media)
}

fn patched(current: &Value, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = patch_media_type(content_type)?;
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    let mut object = current.clone();
    match media {
        "application/merge-patch+json" => patch::merge_patch(&mut object, &patch),
        "application/strategic-merge-patch+json" => patch::strategic_merge_patch(&mut object, &patch),
        "application/json-patch+json" => patch::json_patch(&mut object, &patch).map_err(|e| ApiError::new(422, "Invalid", e))?,
        other => return Err(ApiError::new(415, "UnsupportedMediaType", format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"))),
    }
    Ok(object)
}

/// PUT or PATCH: computes the new object from the current one, enforces immutability, stores it.
fn write(
    shared: &Shared,
    path: &ResourcePath,
    name: &str,
    status_only: bool,
    dry_run: bool,
    compute: impl FnOnce(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let resource = path.resource;
    let namespace = namespace_key(path);
    let mut store = shared.store.lock().expect("store lock");
    let current = store
        .get(resource, &namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    let mut next = compute(&current)?;
    if str_at(&next, "/metadata/name") != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            str_at(&next, "/metadata/name")
        )));
    }
    let has_status = resource.subresources.contains(&"status");
    if status_only {
        let status = next.get("status").cloned().unwrap_or(Value::Null);
        next = current.clone();
        next["status"] = status;
    } else if has_status {
        match current.get("status") {
            Some(status) => next["status"] = status.clone(),
            None => {
                if let Some(map) = next.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    if resource.namespaced {
        metadata_mut(&mut next).insert("namespace".into(), json!(namespace));
    }
    controllers::check_immutable(resource, &current, &next)?;
    if dry_run {
        return Ok(next);
    }
    store.update(resource, next)
}

fn delete(
    shared: &Shared,
    path: &ResourcePath,
    name: &str,
    query: &Query,
    body: &[u8],
    dry_run: bool,
) -> Result<Value, ApiError> {
    let resource = path.resource;
    let namespace = namespace_key(path);
    let options: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let propagation = query
        .get("propagationPolicy")
        .cloned()
        .or_else(|| options["propagationPolicy"].as_str().map(str::to_string))
        .or_else(|| {
            (options["orphanDependents"] == json!(false)).then(|| "Background".to_string())
        });
    if dry_run {
        return get(shared, path, name);
    }
    let deleted = shared
        .store
        .lock()
        .expect("store lock")
        .delete(resource, &namespace, name)?;
    match resource.kind {
        "Job" if matches!(propagation.as_deref(), Some("Background" | "Foreground")) => {
            controllers::delete_job_pods(shared, &deleted)
        }
        "Pod" => shared.logs_close(&namespace, name),
        "Namespace" => {
            let mut store = shared.store.lock().expect("store lock");
            for served in RESOURCES.iter().filter(|r| r.namespaced && r.stored()) {
                let names: Vec<String> = store
                    .range(served, Some(name), None)
                    .map(|o| str_at(o, "/metadata/name"))
                    .collect();
                for object in names {
                    let _ = store.delete(served, name, &object);
                }
            }
        }
        _ => {}
    }
    Ok(deleted)
}

/// Resolves when an API outage window is open (checked every 20 ms).
async fn outage_begins(shared: &Shared) {
    while shared.outage_now().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sleeps until the deadline, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn channel_body(receiver: mpsc::Receiver<Bytes>) -> Body {
    let mut receiver = receiver;
    Body::from_stream(futures::stream::poll_fn(move |cx| {
        receiver
            .poll_recv(cx)
            .map(|b| b.map(Ok::<_, std::convert::Infallible>))
    }))
}

fn watch_objects(
    shared: &Arc<Shared>,
    path: &ResourcePath,
    query: &Query,
) -> Result<Response, ApiError> {
    let (labels, mut fields) = selectors(query, path.resource.kind)?;
    if let Some(name) = &path.name {
        fields = FieldSelector::parse(&format!("metadata.name={name}"), path.resource.kind)
            .map_err(|e| ApiError::bad_request(e.0))?;
    }
    let resource = path.resource;
    let namespace = path.namespace.clone().filter(|_| resource.namespaced);
    let from = query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let (initial, start) = {
        let store = shared.store.lock().expect("store lock");
        match from {
            None => {
                let initial: Vec<Value> = store
                    .range(resource, namespace.as_deref(), None)
                    .filter(|o| labels.matches(o) && fields.matches(o))
                    .cloned()
                    .collect();
                (initial, store.watch_from(store.resource_version()))
            }
            Some(rv) => {
                let rv = rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?;
                (Vec::new(), store.watch_from(rv))
            }
        }
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let cut_after = shared.scenario.faults.watch_cut_after_events;
    let gone_reason = if shared
        .scenario
        .server
        .major_minor()
        .1
        .trim_end_matches('+')
        .parse::<u32>()
        .unwrap_or(16)
        < 16
    {
        "Gone"
    } else {
        "Expired"
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    let key = resource.key();
    let line = |event_type: &str, object: &Value| {
        let mut text = serde_json::to_vec(&json!({"type": event_type, "object": object}))
            .expect("JSON serialises");
        text.push(b'\n');
        Bytes::from(text)
    };
    let watching = shared.clone();
    shared.spawn(async move {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut sent = 0u64;
        let mut start = match start {
            Ok(start) => start,
            Err(error) => {
                let mut status = error.status_body();
                status["reason"] = json!(gone_reason);
                let _ = sender.send(line("ERROR", &status)).await;
                return;
            }
        };
        let matches = |event: &WatchEvent| {
            event.resource == key
                && namespace.as_deref().is_none_or(|ns| ns == event.namespace)
                && labels.matches(&event.object)
                && fields.matches(&event.object)
        };
        let initial_lines = initial.iter().map(|o| line(EventType::Added.as_str(), o));
        let replay_lines = start
            .replay
            .iter()
            .filter(|e| matches(e))
            .map(|e| line(e.event_type.as_str(), &e.object));
        for bytes in initial_lines.chain(replay_lines).collect::<Vec<_>>() {
            if cut_after.is_some_and(|c| sent >= c) || sender.send(bytes).await.is_err() {
                return;
            }
            sent += 1;
        }
        loop {
            if cut_after.is_some_and(|c| sent >= c) {
                return;
            }
            // An API outage also ends the streams that were open when it began.
            let next = tokio::select! {
                next = start.live.recv() => next,
                _ = sleep_until(deadline) => return,
                _ = outage_begins(&watching) => return,
            };
            let Ok(event) = next else { return };
            if !matches(&event) {
                continue;
            }
            if sender
                .send(line(event.event_type.as_str(), &event.object))
                .await
                .is_err()
            {
                return;
            }
            sent += 1;
        }
    });
    let mut response = Response::new(channel_body(receiver));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert("transfer-encoding", HeaderValue::from_static("chunked"));
    Ok(response)
}

fn pod_log(
    shared: &Arc<Shared>,
    path: &ResourcePath,
    name: &str,
    query: &Query,
) -> Result<Response, ApiError> {
    let pod = get(shared, path, name)?;
    let namespace = namespace_key(path);
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(|c| str_at(c, "/name")).collect())
        .unwrap_or_default();
    if let Some(container) = query.get("container") {
        if !containers.contains(container) {
            return Err(ApiError::bad_request(format!(
                "container {container} is not valid for pod {name}"
            )));
        }
    } else if containers.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            containers.join(" ")
        )));
    }
    let waiting = pod
        .pointer("/status/containerStatuses/0/state/waiting/reason")
        .and_then(Value::as_str);
    if let Some(reason) = waiting {
        let container = containers.first().cloned().unwrap_or_default();
        let why = match reason {
            "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
            other => other,
        };
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    }
    let follow = matches!(query.get("follow").map(String::as_str), Some("true" | "1"));
    let tail = query.get("tailLines").and_then(|t| t.parse::<usize>().ok());
    let key = (namespace, name.to_string());
    let snapshot = |from: usize| {
        let logs = shared.logs.lock().expect("logs lock");
        match logs.get(&key) {
            Some(log) => (
                log.lines
                    .get(from..)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
                log.finished,
            ),
            None => (Vec::new(), true),
        }
    };
    let (mut lines, finished) = snapshot(0);
    let total = lines.len();
    if let Some(tail) = tail {
        lines = lines.split_off(lines.len().saturating_sub(tail));
    }
    let to_bytes =
        |lines: &[String]| Bytes::from(lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    let text_response = |body: Body| {
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        response
    };
    if !follow || finished {
        return Ok(text_response(Body::from(to_bytes(&lines))));
    }
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let shared2 = shared.clone();
    let mut changes = shared.logs_changed.subscribe();
    shared.spawn(async move {
        if sender.send(to_bytes(&lines)).await.is_err() {
            return;
        }
        let mut position = total;
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = outage_begins(&shared2) => return,
            }
            let (more, finished) = {
                let logs = shared2.logs.lock().expect("logs lock");
                match logs.get(&key) {
                    Some(log) => (
                        log.lines
                            .get(position..)
                            .map(<[String]>::to_vec)
                            .unwrap_or_default(),
                        log.finished,
                    ),
                    None => (Vec::new(), true),
                }
            };
            position += more.len();
            if !more.is_empty() && sender.send(to_bytes(&more)).await.is_err() {
                return;
            }
            if finished {
                return;
            }
        }
    });
    Ok(text_response(channel_body(receiver)))
}

fn access_review(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let attributes = if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        protobuf::read_ssar(body).ok_or_else(|| {
            ApiError::bad_request("unable to decode the protobuf SelfSubjectAccessReview")
        })?
    } else {
        let review: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
        let text = |field: &str| str_at(&review, &format!("/spec/resourceAttributes/{field}"));
        protobuf::ResourceAttributes {
            namespace: text("namespace"),
            verb: text("verb"),
            group: text("group"),
            version: text("version"),
            resource: text("resource"),
            subresource: text("subresource"),
            name: text("name"),
        }
    };
    let allowed = if attributes.verb == "*" || attributes.resource == "*" {
        // A wildcard question (`kubectl auth can-i '*' '*' -A`) is a yes only when no deny
        // rule takes any part of it away.
        !shared.scenario.rbac.deny.iter().any(|rule| {
            overlaps(&rule.verb, &attributes.verb)
                && overlaps(&rule.resource, &attributes.resource)
                && rule.namespace.as_deref().is_none_or(|ns| {
                    attributes.namespace.is_empty() || overlaps(ns, &attributes.namespace)
                })
                && rule
                    .group
                    .as_deref()
                    .is_none_or(|g| attributes.resource == "*" || overlaps(g, &attributes.group))
        })
    } else {
        !denied(
            shared,
            &attributes.verb,
            &attributes.group,
            &attributes.resource,
            &attributes.namespace,
        )
    };
    let mut resource_attributes = serde_json::Map::new();
    for (field, value) in [
        ("namespace", &attributes.namespace),
        ("verb", &attributes.verb),
        ("group", &attributes.group),
        ("version", &attributes.version),
        ("resource", &attributes.resource),
        ("subresource", &attributes.subresource),
        ("name", &attributes.name),
    ] {
        if !value.is_empty() {
            resource_attributes.insert(field.into(), json!(value));
        }
    }
    // RBAC gives no reason for a plain "no", so kubectl prints just "no".
    let status = json!({"allowed": allowed});
    Ok(json_response(
        201,
        &json!({
            "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": resource_attributes},
            "status": status,
        }),
    ))
}
