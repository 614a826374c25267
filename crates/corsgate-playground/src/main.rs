//! `corsgate-playground [PAGE_ADDR] [GATEWAY_ADDR]`: serves the playground page
//! (default 127.0.0.1:8080) and the demo gateway (default 127.0.0.1:8081).
use std::net::SocketAddr;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let parse = |a: Option<String>, default: &str| -> SocketAddr {
        let text = a.unwrap_or_else(|| default.to_owned());
        match text.parse() {
            Ok(addr) => addr,
            Err(_) => {
                eprintln!("error: '{text}' is not an address like 127.0.0.1:8080");
                std::process::exit(2);
            }
        }
    };
    let page = parse(args.next(), "127.0.0.1:8080");
    let gateway = parse(args.next(), "127.0.0.1:8081");
    match corsgate_playground::start(page, gateway).await {
        Ok(r) => {
            println!(
                "corsgate playground: open {}/ (demo gateway on {})",
                r.page_origin, r.gateway_origin
            );
            let _ = tokio::signal::ctrl_c().await;
        }
        Err(e) => {
            eprintln!("error: cannot start the playground: {e}");
            std::process::exit(2);
        }
    }
}
