//! Running the central: the HTTP server and the sweeper as two tasks that share one shutdown
//! signal, and a handle whose `shutdown` stops both and waits for them.
//!
//! Deliberately absent: parsing arguments and choosing the database (the binary does that).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http::{router, AppState, Config};
use crate::store::Store;
use crate::sweeper::{self, IntentLookup};

/// A running central. Dropping it without `shutdown` leaves the tasks running until the runtime
/// ends; call `shutdown` to stop them in order.
#[derive(Debug)]
pub struct RunningCentral {
    /// Where the HTTP server listens (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// The store the server uses, shared with tests and tools.
    pub store: Store,
    /// Set to true once to stop the server and the sweeper.
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

/// Starts serving on `listener` and sweeping every `config.sweep_interval_ms`.
pub fn start(
    store: Store,
    config: Config,
    gateway: Option<Arc<dyn IntentLookup>>,
    listener: TcpListener,
) -> std::io::Result<RunningCentral> {
    let addr = listener.local_addr()?;
    let (shutdown, _) = watch::channel(false);
    let sweep_interval_ms = config.sweep_interval_ms;
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config),
        gateway: gateway.clone(),
        terminals: Default::default(),
    };
    let app = router(state);
    let mut server_stop = shutdown.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // Either a true value or the sender going away means stop.
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let sweeper = tokio::spawn(sweeper::run(
        store.clone(),
        gateway,
        sweep_interval_ms,
        shutdown.subscribe(),
    ));
    Ok(RunningCentral {
        addr,
        store,
        shutdown,
        server,
        sweeper,
    })
}

impl RunningCentral {
    /// Stops accepting requests, lets in-flight requests and the current sweep pass finish, and
    /// waits for both tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
        if let Err(e) = self.sweeper.await {
            tracing::error!(error = %e, "sweeper task failed");
        }
        tracing::info!("central stopped");
    }
}

/// Waits for Ctrl-C or SIGTERM: how a server binary learns it should shut down gracefully
/// (shared by `paydesk-central serve` and `paydesk stack`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
