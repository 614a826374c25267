//! An axum API behind corsgate-tower.
//!
//! ```text
//! cargo run -p corsgate-tower --example axum
//! curl -i -X OPTIONS http://127.0.0.1:3000/items \
//!   -H 'Origin: https://app.example.com' \
//!   -H 'Access-Control-Request-Method: PUT' \
//!   -H 'Access-Control-Request-Headers: content-type'
//! ```
//!
//! The policy comes from TOML (`CORS_POLICY=path/to/cors.toml` to use your
//! own); a bad policy stops the program with every problem listed, located by
//! line and column. Send `SIGHUP`-style reloads by calling
//! `CorsHandle::set_policy` (shown here on a timer-free `/reload` route).

use axum::routing::{get, post};
use axum::Router;
use corsgate_core::Policy;
use corsgate_tower::CorsLayer;

const DEFAULT_POLICY: &str = r#"
origins = ["https://app.example.com", "https://*.preview.example.com", "http://localhost:*"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
"#;

fn load() -> Result<Policy, String> {
    let text = match std::env::var("CORS_POLICY") {
        Ok(path) => std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?,
        Err(_) => DEFAULT_POLICY.to_owned(),
    };
    Policy::from_toml(&text).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let policy = match load() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let cors = CorsLayer::new(policy);
    let handle = cors.handle();
    let app = Router::new()
        .route(
            "/items",
            get(|| async { ([("x-request-id", "r-1")], "[]") }).put(|| async { "stored" }),
        )
        .route(
            "/reload",
            post(move || {
                let handle = handle.clone();
                async move {
                    match load() {
                        Ok(p) => {
                            handle.set_policy(p);
                            "policy reloaded\n".to_owned()
                        }
                        Err(e) => format!("kept the old policy: {e}\n"),
                    }
                }
            }),
        )
        .layer(cors);
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:3000").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:3000: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on http://127.0.0.1:3000");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
    }
}
