//! kube-sim over HTTPS (`Options::tls`, `kube-sim --tls`), as a real API server serves: a
//! throwaway certificate authority and a server certificate for the loopback address, made when
//! the simulator starts and never written anywhere but the kubeconfig. The kubeconfig carries
//! the authority as `certificate-authority-data` — what kubectl and the kube client trust for a
//! cluster, rather than the machine's CA files, which a bastion may not have. It lets a test
//! prove that a build of `astro-upgrade` (the static one of `scripts/dist` too) talks TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The simulator's certificate authority and what it needs to serve with it.
pub(crate) struct Tls {
    /// The authority's certificate (PEM), for `certificate-authority-data`.
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// A new authority and a server certificate for `localhost` and `ip`, both ECDSA P-256.
    pub(crate) fn generate(ip: std::net::IpAddr) -> anyhow::Result<Tls> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "kube-sim certificate authority");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = ca.self_signed(&ca_key)?.pem();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec!["localhost".to_string(), ip.to_string()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )?;
        // The simulator speaks HTTP/1.1 only (axum without http2): say so, so no client
        // negotiates h2 and then sends a preface the server does not read.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Serves TLS over the connections another listener accepts (the outage-aware one, so faults
/// still act on the TCP connection). Handshakes run beside the accept loop: a client that
/// connects and never speaks holds up nobody.
pub(crate) struct TlsListener<L> {
    pub inner: L,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl<L> TlsListener<L> {
    pub(crate) fn new(inner: L, tls: &Tls) -> TlsListener<L> {
        TlsListener {
            inner,
            acceptor: tls.acceptor.clone(),
            handshakes: JoinSet::new(),
        }
    }
}

/// A handshake that has not finished by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl<L> axum::serve::Listener for TlsListener<L>
where
    L: axum::serve::Listener<Io = TcpStream, Addr = SocketAddr>,
{
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                (stream, address) = self.inner.accept() => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        // A failed handshake (a client that does not trust the authority) is
                        // the client's error to report; the server just drops the connection.
                        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                            .ok()?
                            .ok()?;
                        Some((stream, address))
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
