//! Evaluates request/response pairs with the browser model and prints each verdict.
//!
//! ```text
//! cargo run -p corsgate-core --example verdict            # the built-in scenarios
//! cargo run -p corsgate-core --example verdict -- firefox # the same, judged as Firefox
//! ```
use corsgate_core::{Browser, Credentials, Profile, Request, Response, Stage};

struct Scenario {
    title: &'static str,
    request: Request,
    preflight: Response,
    actual: Response,
}

fn scenarios() -> Result<Vec<Scenario>, corsgate_core::RequestError> {
    let app = "https://app.example";
    let api = "https://api.example/v1/orders";
    let allow = |r: Response| r.header("Access-Control-Allow-Origin", app);
    Ok(vec![
        Scenario {
            title: "A simple GET, allowed, one header exposed",
            request: Request::builder(app, api).build()?,
            preflight: Response::new(404),
            actual: allow(Response::new(200))
                .header("Content-Type", "application/json")
                .header("X-Total-Count", "3")
                .header("X-Internal", "secret")
                .header("Access-Control-Expose-Headers", "X-Total-Count"),
        },
        Scenario {
            title: "A JSON POST with a cookie, but the server sends `*`",
            request: Request::builder(app, api)
                .method("POST")
                .header("Content-Type", "application/json")
                .credentials(Credentials::Include)
                .build()?,
            preflight: Response::new(204)
                .header("Access-Control-Allow-Origin", "*")
                .header("Access-Control-Allow-Methods", "POST")
                .header("Access-Control-Allow-Headers", "content-type"),
            actual: Response::new(201).header("Access-Control-Allow-Origin", "*"),
        },
        Scenario {
            title: "PATCH in lower case: methods are case-sensitive",
            request: Request::builder(app, api).method("patch").build()?,
            preflight: allow(Response::new(204))
                .header("Access-Control-Allow-Methods", "GET, POST, PATCH"),
            actual: allow(Response::new(200)),
        },
        Scenario {
            title: "The preflight hits an authentication layer first",
            request: Request::builder(app, api)
                .method("DELETE")
                .header("Authorization", "Bearer t0ken")
                .build()?,
            preflight: Response::new(401).header("WWW-Authenticate", "Bearer"),
            actual: allow(Response::new(204)),
        },
        Scenario {
            title: "A trailing slash in Access-Control-Allow-Origin",
            request: Request::builder(app, api).build()?,
            preflight: Response::new(404),
            actual: Response::new(200)
                .header("Access-Control-Allow-Origin", "https://app.example/"),
        },
    ])
}

fn main() {
    let profile = match std::env::args().nth(1).map(|p| p.parse::<Profile>()) {
        None => Profile::Chromium,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let scenarios = match scenarios() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    for s in scenarios {
        println!("== {}", s.title);
        let mut browser = Browser::new(profile);
        let verdict = browser.run(s.request, |out| {
            Ok::<_, std::convert::Infallible>(match out.stage {
                Stage::Preflight => s.preflight.clone(),
                _ => s.actual.clone(),
            })
        });
        match verdict {
            Ok(v) => println!("{v}\n"),
            Err(never) => match never {},
        }
    }
}
