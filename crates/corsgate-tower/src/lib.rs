//! # corsgate-tower
//!
//! A [`tower`](https://docs.rs/tower) middleware that enforces a validated
//! [`corsgate_core::Policy`] in front of any `http`-based service: axum,
//! hyper, tonic (gRPC-Web), or a plain `tower::Service`.
//!
//! * Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   are answered by the layer, 204 or 403, and never reach the inner service.
//!   Any other `OPTIONS` request is passed on.
//! * Every response the inner service produces gets the CORS headers and
//!   `Vary`, whatever its status: 4xx and 5xx error responses included, so
//!   pages can read your error bodies. `Vary` is appended, never replaced or
//!   duplicated.
//! * The policy can be replaced atomically while serving through a
//!   [`CorsHandle`] (an `arc-swap`; requests never take a lock), and debug
//!   mode can be switched on at run time.
//! * With the policy's `reason_header` on (off by default: it reveals the
//!   policy to whoever asks), every refused request's answer carries the
//!   policy's reason and the TOML edit that allows it (`corsgate-reason`,
//!   `corsgate-policy-edit`; see [`corsgate_core::policy_reason`]),
//!   which `corsgate check` prints first.
//! * A candidate policy can run in **shadow** beside the enforced one
//!   ([`CorsLayer::shadow`], [`CorsHandle::set_shadow`]): judged on every
//!   request, never changing a response; each disagreement is counted by
//!   kind and reason ([`CorsHandle::shadow_counts`]) and handed to an
//!   optional callback (for a bounded log), and [`CorsHandle::promote`]
//!   makes the candidate the enforced policy. Shadowing an allowed actual
//!   request allocates nothing.
//! * The allowed actual-request path allocates nothing into a response map
//!   with room; into one that has none yet, it makes the same first
//!   allocation any added header makes, cloning prebuilt lines.
//!
//! ```
//! use corsgate_core::Policy;
//! use corsgate_tower::CorsLayer;
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, Layer, Service, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let policy = Policy::builder()
//!     .origin("https://app.example.com")
//!     .method("PUT")
//!     .build()
//!     .expect("a valid policy");
//! let layer = CorsLayer::new(policy);
//! let handle = layer.handle();
//! let inner = service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//! });
//! let mut svc = layer.layer(inner);
//!
//! let req = Request::builder()
//!     .uri("/")
//!     .header("origin", "https://app.example.com")
//!     .body(())
//!     .unwrap();
//! let res = svc.ready().await.unwrap().call(req).await.unwrap();
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(res.headers()["vary"], "origin");
//!
//! // Swap the policy while serving.
//! handle.set_policy(Policy::builder().origin("https://new.example.com").build().unwrap());
//! let req = Request::builder()
//!     .method("OPTIONS")
//!     .uri("/")
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "PUT")
//!     .body(())
//!     .unwrap();
//! let res = svc.ready().await.unwrap().call(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! # });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::{ArcSwap, ArcSwapOption};
use corsgate_core::decision::{Action, Decision, ParsedRequest, ResponseHeaders};
use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::shadow::{Disagreement, ShadowCounts};
use corsgate_core::{Policy, Reason, RequestKind};
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

pub use corsgate_core;

/// What a shadow disagreement is reported to: the disagreement and the
/// request's method, URI and headers (a logger should clip and rate-limit
/// what it writes: every value is the client's).
pub type OnDisagreement =
    dyn Fn(&Disagreement, &Method, &http::Uri, &http::HeaderMap) + Send + Sync;

struct Shared {
    policy: ArcSwap<Policy>,
    /// The candidate judged beside the policy, never enforced.
    shadow: ArcSwapOption<Policy>,
    shadow_counts: ShadowCounts,
    /// Read only when a disagreement happens (never on an agreeing request).
    on_disagreement: ArcSwapOption<Box<OnDisagreement>>,
    /// Bumped after every policy swap. A service keeps its own reference to
    /// the policy and reloads it only when this moved: a plain load per
    /// request instead of an arc-swap read.
    generation: AtomicU64,
    debug: AtomicBool,
    record: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("policy", &self.policy)
            .field("shadow", &self.shadow)
            .field("shadow_counts", &self.shadow_counts)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The layer: wraps services in [`Cors`]. Cloning it shares the policy.
#[derive(Debug, Clone)]
pub struct CorsLayer {
    shared: Arc<Shared>,
}

/// Replaces the policy or toggles debug mode for every service made by a
/// [`CorsLayer`], while they serve.
#[derive(Debug, Clone)]
pub struct CorsHandle {
    shared: Arc<Shared>,
}

/// What the layer decided, put in the response's extensions when
/// [`CorsLayer::record_decisions`] is on (for logging middleware further out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorsOutcome {
    /// Not CORS, preflight or actual.
    pub kind: RequestKind,
    /// Whether the policy allowed the request.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl CorsLayer {
    /// A layer enforcing `policy`.
    pub fn new(policy: Policy) -> Self {
        CorsLayer {
            shared: Arc::new(Shared {
                policy: ArcSwap::from_pointee(policy),
                shadow: ArcSwapOption::empty(),
                shadow_counts: ShadowCounts::default(),
                on_disagreement: ArcSwapOption::empty(),
                generation: AtomicU64::new(0),
                debug: AtomicBool::new(false),
                record: AtomicBool::new(false),
            }),
        }
    }

    /// Also put a [`CorsOutcome`] in every response's extensions, for every
    /// service of this layer and its clones (this allocates: leave it off on
    /// hot paths that do not log).
    pub fn record_decisions(self, yes: bool) -> Self {
        self.shared.record.store(yes, Ordering::Relaxed);
        self
    }

    /// Judges `candidate` beside the policy on every request, without
    /// enforcing it (see [`CorsHandle::shadow_counts`]).
    ///
    /// ```
    /// use corsgate_core::Policy;
    /// use corsgate_tower::CorsLayer;
    /// let enforced = Policy::builder().origins(["https://app.example", "https://old.example"]).build().unwrap();
    /// let candidate = Policy::builder().origin("https://app.example").build().unwrap();
    /// let layer = CorsLayer::new(enforced).shadow(candidate);
    /// assert!(layer.handle().shadow().is_some());
    /// ```
    pub fn shadow(self, candidate: Policy) -> Self {
        self.shared.shadow.store(Some(Arc::new(candidate)));
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self
    }

    /// Calls `f` on every shadow disagreement (before the response is sent;
    /// keep it cheap and bounded), for every service of this layer and its
    /// clones; a later call replaces it.
    pub fn on_disagreement(
        self,
        f: impl Fn(&Disagreement, &Method, &http::Uri, &http::HeaderMap) + Send + Sync + 'static,
    ) -> Self {
        let f: Box<OnDisagreement> = Box::new(f);
        self.shared.on_disagreement.store(Some(Arc::new(f)));
        self
    }

    /// A handle to change the policy or debug mode while serving.
    pub fn handle(&self) -> CorsHandle {
        CorsHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl CorsHandle {
    /// Replaces the policy atomically: requests already deciding finish with
    /// the old one, every later request uses the new one.
    ///
    /// Each service keeps a reference to the policy it last used and swaps it
    /// on its next request, so an idle service (a quiet keep-alive
    /// connection) keeps the previous policy's memory until then, or until
    /// it is dropped.
    pub fn set_policy(&self, policy: Policy) {
        self.shared.policy.store(Arc::new(policy));
        // After the store: a service that sees the new generation loads (at
        // least) this policy.
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.shared.policy.load_full()
    }

    /// Replaces (or, with `None`, removes) the candidate judged in shadow.
    pub fn set_shadow(&self, candidate: Option<Policy>) {
        self.shared.shadow.store(candidate.map(Arc::new));
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The candidate judged in shadow, if any.
    pub fn shadow(&self) -> Option<Arc<Policy>> {
        self.shared.shadow.load_full()
    }

    /// Makes the candidate the enforced policy (and stops shadowing);
    /// false when there was no candidate.
    pub fn promote(&self) -> bool {
        let Some(candidate) = self.shared.shadow.swap(None) else {
            return false;
        };
        self.shared.policy.store(candidate);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// The shadow disagreements so far, by kind and reason.
    pub fn shadow_counts(&self) -> &ShadowCounts {
        &self.shared.shadow_counts
    }

    /// Turns debug mode on or off at run time (on if either this switch or the
    /// policy's own `debug` setting is on): refused preflights then carry the
    /// partial headers that make the browser console name the failing check.
    pub fn set_debug(&self, on: bool) {
        self.shared.debug.store(on, Ordering::Relaxed);
    }

    /// Whether the run-time debug switch is on.
    pub fn debug(&self) -> bool {
        self.shared.debug.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;
    fn layer(&self, inner: S) -> Cors<S> {
        // The generation first: a swap in between makes the service reload
        // once more, never keep a stale policy.
        let generation = self.shared.generation.load(Ordering::SeqCst);
        Cors {
            inner,
            policy: self.shared.policy.load_full(),
            shadow: self.shared.shadow.load_full(),
            generation,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The middleware service; see the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    shared: Arc<Shared>,
    /// The policy as of `generation`.
    policy: Arc<Policy>,
    /// The shadow candidate as of `generation`.
    shadow: Option<Arc<Policy>>,
    generation: u64,
}

impl<S> Cors<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        if generation != self.generation {
            self.policy = self.shared.policy.load_full();
            self.shadow = self.shared.shadow.load_full();
            self.generation = generation;
        }
        // The request is read once; the candidate and the policy both
        // decide on that reading.
        let request = ParsedRequest::new(req.method(), req.headers());
        let shadow = self
            .shadow
            .as_deref()
            .map(|c| c.decide_shadow_parsed(&request));
        let debug = self.policy.debug() || self.shared.debug.load(Ordering::Relaxed);
        let decision = self.policy.decide_parsed(&request, debug);
        if let Some(d) = shadow.and_then(|s| s.compare(&decision)) {
            self.shared.shadow_counts.record(&d);
            if let Some(f) = self.shared.on_disagreement.load().as_ref() {
                f(&d, req.method(), req.uri(), req.headers());
            }
        }
        let reason = if !decision.allowed() && self.policy.reason_header() {
            PolicyReason::of(&self.policy, req.method(), req.headers()).map(Box::new)
        } else {
            None
        };
        let outcome = self
            .shared
            .record
            .load(Ordering::Relaxed)
            .then(|| outcome(&decision));
        match decision.action() {
            Action::Respond(status) => {
                let mut res = Response::new(ResBody::default());
                *res.status_mut() = status;
                decision.into_headers().apply_to(res.headers_mut());
                if let Some(r) = reason {
                    r.apply_to(res.headers_mut());
                }
                if let Some(o) = outcome {
                    res.extensions_mut().insert(o);
                }
                ResponseFuture {
                    state: State::Ready { res: Some(res) },
                }
            }
            Action::PassOn => ResponseFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                    headers: Some(decision.into_headers()),
                    reason,
                    outcome,
                },
            },
        }
    }
}

fn outcome(d: &Decision) -> CorsOutcome {
    CorsOutcome {
        kind: d.kind(),
        allowed: d.allowed(),
        reason: d.reason(),
    }
}

pin_project! {
    /// The response future of [`Cors`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner {
            #[pin]
            fut: F,
            headers: Option<ResponseHeaders>,
            reason: Option<Box<PolicyReason>>,
            outcome: Option<CorsOutcome>,
        },
        Ready {
            res: Option<Response<B>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner {
                fut,
                headers,
                reason,
                outcome,
            } => {
                // The response is changed where the inner future put it
                // (moving it out and back costs more than the headers).
                let mut out = fut.poll(cx);
                if let Poll::Ready(Ok(res)) = &mut out {
                    if let Some(h) = headers.take() {
                        h.apply_to(res.headers_mut());
                    }
                    if let Some(r) = reason.take() {
                        r.apply_to(res.headers_mut());
                    }
                    if let Some(o) = outcome.take() {
                        res.extensions_mut().insert(o);
                    }
                }
                out
            }
            StateProj::Ready { res } => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => panic!("ResponseFuture polled after completion"),
            },
        }
    }
}
