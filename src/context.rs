//! The diagnostic context of a call: MDC entries and the call's start time.
//!
//! The MDC lives in `log-mdc`'s thread-local map, so log4rs's own `{X(user)}` pattern sees the
//! same values as our envelope. The start of the current call lives beside it. Both are
//! per thread; [`InAuditContext`] carries them across `.await` points and runtime threads.
//!
//! Under the tracing Layer, an event's enclosing spans add to that context: their fields are
//! MDC entries over the thread's own (innermost span wins) and the innermost span with an
//! `apiCall` field gives the call start. The Layer lends them for one delivery
//! ([`with_span_context`]); every reader here ([`call_start`], [`for_each_mdc`], [`mdc_get`],
//! [`AuditContext::current`]) sees them, so every encoder and the `async` capture do.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

thread_local! {
    static CALL_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// MDC key of the API call path set by [`CallScope::enter`].
pub const MDC_API_CALL: &str = "apiCall";
/// MDC key of the user set by [`CallScope::user`].
pub const MDC_USER: &str = "user";

/// Start of the innermost open call on this thread (or in this task, under [`InAuditContext`];
/// or of the innermost enclosing span with an `apiCall` field, for an event under the tracing
/// Layer).
pub fn call_start() -> Option<Instant> {
    let from_spans = LENT
        .try_with(|cell| cell.try_borrow().ok()?.as_ref()?.call_start)
        .ok()
        .flatten();
    from_spans.or_else(|| CALL_START.try_with(Cell::get).ok().flatten())
}

/// The context a tracing span gives the events inside it: the fields of the span and of every
/// span enclosing it, innermost winning a key, sorted by key; and the start of the innermost
/// one carrying `apiCall`. Built once per span (and again if a field is recorded later), lent
/// by the Layer for each delivery ([`with_span_context`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SpanContext {
    entries: Vec<(&'static str, String)>,
    call_start: Option<Instant>,
    /// The field-recording epoch it was built in (see the Layer): stale once a span recorded
    /// a field after it.
    pub(crate) epoch: u64,
}

#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
impl SpanContext {
    /// The context inside a span with fields `own` (and, if it carries `apiCall`, a call started
    /// at `own_start`) under `parent`'s context.
    pub(crate) fn child(
        parent: Option<&SpanContext>,
        own: &[(&'static str, String)],
        own_start: Option<Instant>,
        epoch: u64,
    ) -> SpanContext {
        let mut entries = parent.map(|p| p.entries.clone()).unwrap_or_default();
        for (k, v) in own {
            match entries.binary_search_by(|(e, _)| e.cmp(k)) {
                Ok(i) => entries[i].1.clone_from(v),
                Err(i) => entries.insert(i, (k, v.clone())),
            }
        }
        SpanContext {
            entries,
            call_start: own_start.or_else(|| parent.and_then(|p| p.call_start)),
            epoch,
        }
    }

    /// The value of `key`, if a span gives one.
    fn get(&self, key: &str) -> Option<&str> {
        let i = self.entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        Some(&self.entries[i].1)
    }

    /// No fields, no call: the context of a span without fields under no span with fields.
    pub(crate) fn empty(epoch: u64) -> SpanContext {
        SpanContext {
            epoch,
            ..SpanContext::default()
        }
    }

    /// Whether it adds nothing to an event.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.call_start.is_none()
    }
}

thread_local! {
    /// The span context of the event being delivered on this thread, if any.
    static LENT: RefCell<Option<Arc<SpanContext>>> = const { RefCell::new(None) };
}

/// Runs `deliver` with `context` lent to the readers of this module. A delivery inside another
/// one (an appender that logs) keeps the outer context.
#[cfg(feature = "tracing")]
pub(crate) fn with_span_context<R>(context: Arc<SpanContext>, deliver: impl FnOnce() -> R) -> R {
    struct Return;
    impl Drop for Return {
        fn drop(&mut self) {
            let _ = LENT.try_with(|cell| cell.try_borrow_mut().map(|mut lent| lent.take()));
        }
    }
    let lent = LENT
        .try_with(|cell| {
            let mut lent = cell.try_borrow_mut().ok()?;
            if lent.is_some() {
                return None;
            }
            *lent = Some(context);
            Some(Return)
        })
        .ok()
        .flatten();
    let result = deliver();
    drop(lent);
    result
}

/// Every MDC entry of the current event, each key once: the thread's (`log-mdc`) but those a
/// span field shadows, then its spans' (innermost winning, already merged per span).
pub(crate) fn for_each_mdc(mut f: impl FnMut(&str, &str)) {
    let lent = LENT.try_with(|cell| {
        let lent = cell.try_borrow().ok();
        match lent.as_ref().and_then(|l| l.as_deref()) {
            None => log_mdc::iter(&mut f),
            Some(spans) => {
                log_mdc::iter(|k, v| {
                    if spans.get(k).is_none() {
                        f(k, v);
                    }
                });
                for (k, v) in &spans.entries {
                    f(k, v);
                }
            }
        }
    });
    if lent.is_err() {
        // The thread is ending and its span context is gone: the thread's own MDC.
        log_mdc::iter(&mut f);
    }
}

/// The MDC value of `key` for the current event (its spans', else the thread's).
pub(crate) fn mdc_get<R>(key: &str, f: impl FnOnce(Option<&str>) -> R) -> R {
    let mut f = Some(f);
    let from_spans = LENT
        .try_with(|cell| {
            let lent = cell.try_borrow().ok()?;
            let value = lent.as_ref()?.get(key)?;
            f.take().map(|f| f(Some(value)))
        })
        .ok()
        .flatten();
    match (from_spans, f) {
        (Some(result), _) => result,
        (None, Some(f)) => log_mdc::get(key, f),
        (None, None) => unreachable!("`f` runs exactly once"),
    }
}

/// Sets the call start of this thread; returns the previous one. A thread that is ending has
/// none.
fn set_call_start(start: Option<Instant>) -> Option<Instant> {
    CALL_START.try_with(|c| c.replace(start)).ok().flatten()
}

/// Whole milliseconds the current call has been running at `now`, `None` outside a call.
pub fn call_time_ms(now: Instant) -> Option<u64> {
    call_start().map(|start| whole_millis(start, now))
}

/// Whole milliseconds from `start` to `now` (0 if `now` is earlier).
pub(crate) fn whole_millis(start: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(start).as_millis()).unwrap_or(u64::MAX)
}

/// A call in progress: sets MDC entries and the call start until dropped.
///
/// Scopes nest: dropping one restores exactly the MDC entries and call start it replaced.
/// Every event logged inside carries `callTime`, the whole milliseconds since the innermost
/// scope began.
///
/// ```
/// use log4rs_audit::{audit, CallScope};
///
/// fn export(user: &str) {
///     let _call = CallScope::enter("/api/datasets/export").user(user);
///     assert_eq!(log_mdc::get("apiCall", |v| v.map(str::to_owned)).as_deref(), Some("/api/datasets/export"));
///     audit!(generic, "dataset-export", authUser = user, datasetName = "customers");
/// }
/// export("alice");
/// assert!(log_mdc::get("apiCall", |v| v.is_none()));
/// ```
#[must_use = "the scope ends when this guard is dropped"]
#[derive(Debug)]
pub struct CallScope {
    /// MDC entries this scope overwrote, in the order it set them; restored in reverse.
    replaced: Vec<(String, Option<String>)>,
    previous_start: Option<Instant>,
}

impl CallScope {
    /// Opens a call for `api_call` (MDC `apiCall`), starting now.
    pub fn enter(api_call: impl Into<String>) -> CallScope {
        let previous_start = set_call_start(Some(Instant::now()));
        let mut scope = CallScope {
            replaced: Vec::with_capacity(2),
            previous_start,
        };
        scope.set(MDC_API_CALL, api_call.into());
        scope
    }

    /// Sets MDC `user` for the call.
    pub fn user(self, user: impl Into<String>) -> CallScope {
        self.mdc(MDC_USER, user)
    }

    /// Sets any other MDC entry for the duration of the call.
    pub fn mdc(mut self, key: impl Into<String>, value: impl Into<String>) -> CallScope {
        self.set(key.into(), value.into());
        self
    }

    /// Moves the call's start back to when the call really began (e.g. when the request
    /// arrived), so `callTime` measures from there.
    pub fn started_at(self, start: Instant) -> CallScope {
        set_call_start(Some(start));
        self
    }

    /// Time elapsed since the call started.
    pub fn elapsed(&self) -> Duration {
        call_start().map(|s| s.elapsed()).unwrap_or_default()
    }

    fn set(&mut self, key: impl Into<String>, value: String) {
        let key = key.into();
        let old = log_mdc::insert(key.clone(), value);
        self.replaced.push((key, old));
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        for (key, old) in self.replaced.drain(..).rev() {
            match old {
                Some(v) => {
                    log_mdc::insert(key, v);
                }
                None => {
                    log_mdc::remove(&key);
                }
            }
        }
        set_call_start(self.previous_start);
    }
}

/// A snapshot of a diagnostic context (MDC entries and call start) that can move between
/// threads and tasks.
///
/// ```
/// use log4rs_audit::{AuditContext, CallScope};
///
/// let _call = CallScope::enter("/api/jobs/start").user("bob");
/// let ctx = AuditContext::current();
/// std::thread::spawn(move || {
///     let _in = ctx.enter();
///     assert_eq!(log_mdc::get("user", |v| v.map(str::to_owned)).as_deref(), Some("bob"));
/// }).join().unwrap();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditContext {
    mdc: Vec<(String, String)>,
    call_start: Option<Instant>,
}

impl AuditContext {
    /// An empty context: no MDC, no call.
    pub fn empty() -> AuditContext {
        AuditContext::default()
    }

    /// A copy of the current thread's context (with the enclosing spans' fields while the
    /// tracing Layer delivers an event).
    pub fn current() -> AuditContext {
        let mut mdc = Vec::new();
        for_each_mdc(|k, v| mdc.push((k.to_owned(), v.to_owned())));
        mdc.sort();
        AuditContext {
            mdc,
            call_start: call_start(),
        }
    }

    /// The MDC entries, sorted by key.
    pub fn mdc(&self) -> &[(String, String)] {
        &self.mdc
    }

    /// Installs this context on the current thread until the guard drops, which puts back
    /// the thread's own context.
    pub fn enter(&self) -> ContextGuard {
        let saved = take_current();
        install(self.clone());
        ContextGuard { saved: Some(saved) }
    }
}

/// Restores a thread's own context when dropped; see [`AuditContext::enter`].
#[must_use = "the context is uninstalled when this guard is dropped"]
#[derive(Debug)]
pub struct ContextGuard {
    saved: Option<AuditContext>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            let _ = take_current();
            install(saved);
        }
    }
}

/// Moves the thread's context out, leaving it empty.
fn take_current() -> AuditContext {
    let ctx = AuditContext::current();
    log_mdc::clear();
    set_call_start(None);
    ctx
}

fn install(ctx: AuditContext) {
    log_mdc::clear();
    log_mdc::extend(ctx.mdc);
    set_call_start(ctx.call_start);
}

/// Runs a future in an audit context that follows it across `.await` points and threads.
///
/// Each poll installs the future's context on the polling thread and takes it back afterwards,
/// so MDC changes and [`CallScope`]s made inside the future persist from one poll to the next
/// and never leak into other tasks sharing the thread.
///
/// ```
/// use log4rs_audit::{AuditContext, CallScope, InAuditContext};
///
/// async fn handler() -> Option<String> {
///     // ... awaits, possibly resuming on another thread ...
///     log_mdc::get("user", |v| v.map(str::to_owned))
/// }
/// let ctx = {
///     let _call = CallScope::enter("/api/x").user("alice");
///     AuditContext::current()
/// };
/// let fut = handler().in_audit_context(ctx);
/// # let user = futures_lite_block_on(fut);
/// # assert_eq!(user.as_deref(), Some("alice"));
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// #     rt.block_on(f)
/// # }
/// ```
pub trait InAuditContext: Future + Sized {
    /// Polls `self` with `ctx` installed.
    fn in_audit_context(self, ctx: AuditContext) -> WithAuditContext<Self> {
        WithAuditContext {
            inner: Some(self),
            ctx: Some(ctx),
        }
    }

    /// Polls `self` in a copy of the calling thread's current context.
    fn in_current_audit_context(self) -> WithAuditContext<Self> {
        self.in_audit_context(AuditContext::current())
    }
}

impl<F: Future> InAuditContext for F {}

pin_project_lite::pin_project! {
    /// A future carrying its audit context; see [`InAuditContext`].
    ///
    /// Dropping it (a cancelled or timed-out task) also runs in its context, so the `Drop` of a
    /// `CallScope` held inside restores the task's values, not the dropping thread's.
    #[derive(Debug)]
    pub struct WithAuditContext<F> {
        #[pin]
        inner: Option<F>,
        ctx: Option<AuditContext>,
    }

    impl<F> PinnedDrop for WithAuditContext<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.inner.is_some() {
                let ctx = this.ctx.take().unwrap_or_default();
                in_context(this.ctx, ctx, || this.inner.set(None));
            }
        }
    }
}

/// Runs `f` with `ctx` installed on this thread; afterwards the (possibly changed) context goes
/// back into `slot` and the thread's own context is restored, even if `f` panics.
fn in_context<R>(slot: &mut Option<AuditContext>, ctx: AuditContext, f: impl FnOnce() -> R) -> R {
    struct Swap<'a> {
        slot: &'a mut Option<AuditContext>,
        thread_own: Option<AuditContext>,
    }
    impl Drop for Swap<'_> {
        fn drop(&mut self) {
            *self.slot = Some(take_current());
            if let Some(own) = self.thread_own.take() {
                install(own);
            }
        }
    }
    let thread_own = take_current();
    install(ctx);
    let _swap = Swap {
        slot,
        thread_own: Some(thread_own),
    };
    f()
}

impl<F: Future> Future for WithAuditContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let ctx = this.ctx.take().unwrap_or_default();
        let inner = this.inner;
        in_context(this.ctx, ctx, || match inner.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            // Only reachable while being dropped, which never polls.
            None => Poll::Pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mdc(key: &str) -> Option<String> {
        log_mdc::get(key, |v| v.map(str::to_owned))
    }

    /// A span field shadows the thread's entry of the same key: every reader sees each key once.
    #[cfg(feature = "tracing")]
    #[test]
    fn lent_span_fields_shadow_the_threads_entries() {
        let _call = CallScope::enter("/api/thread").user("thread-user");
        let spans = SpanContext::child(
            None,
            &[("user", "span-user".into()), ("projectKey", "P1".into())],
            None,
            1,
        );
        with_span_context(Arc::new(spans), || {
            let mut seen = Vec::new();
            for_each_mdc(|k, v| seen.push(format!("{k}={v}")));
            seen.sort();
            assert_eq!(
                seen,
                ["apiCall=/api/thread", "projectKey=P1", "user=span-user"]
            );
            assert_eq!(
                mdc_get("user", |v| v.map(str::to_owned)).as_deref(),
                Some("span-user")
            );
            assert_eq!(
                mdc_get("apiCall", |v| v.map(str::to_owned)).as_deref(),
                Some("/api/thread")
            );
            assert_eq!(AuditContext::current().mdc().len(), 3);
        });
        assert_eq!(
            mdc_get("user", |v| v.map(str::to_owned)).as_deref(),
            Some("thread-user")
        );
    }

    #[test]
    fn scopes_nest_and_restore() {
        log_mdc::insert("user", "outer-user");
        {
            let _a = CallScope::enter("/api/a").user("alice");
            let start_a = call_start().unwrap();
            assert_eq!(mdc("apiCall").as_deref(), Some("/api/a"));
            assert_eq!(mdc("user").as_deref(), Some("alice"));
            {
                let _b = CallScope::enter("/api/b").mdc("projectKey", "P1");
                assert_eq!(mdc("apiCall").as_deref(), Some("/api/b"));
                assert_eq!(mdc("user").as_deref(), Some("alice"));
                assert_eq!(mdc("projectKey").as_deref(), Some("P1"));
                assert!(call_start().unwrap() >= start_a);
            }
            assert_eq!(mdc("apiCall").as_deref(), Some("/api/a"));
            assert_eq!(mdc("projectKey"), None);
            assert_eq!(call_start(), Some(start_a));
        }
        assert_eq!(mdc("apiCall"), None);
        assert_eq!(mdc("user").as_deref(), Some("outer-user"));
        assert_eq!(call_start(), None);
        log_mdc::clear();
    }

    #[test]
    fn call_time_counts_whole_milliseconds() {
        let base = Instant::now();
        let _call = CallScope::enter("/api/x").started_at(base);
        assert_eq!(call_time_ms(base + Duration::from_micros(9_999)), Some(9));
        assert_eq!(call_time_ms(base + Duration::from_millis(10)), Some(10));
        drop(_call);
        assert_eq!(call_time_ms(base), None);
    }

    #[test]
    fn context_guard_restores_thread_context() {
        let ctx = {
            let _c = CallScope::enter("/api/ctx").user("u1");
            AuditContext::current()
        };
        let _own = CallScope::enter("/api/own");
        {
            let _g = ctx.enter();
            assert_eq!(mdc("apiCall").as_deref(), Some("/api/ctx"));
            assert_eq!(mdc("user").as_deref(), Some("u1"));
        }
        assert_eq!(mdc("apiCall").as_deref(), Some("/api/own"));
        assert_eq!(mdc("user"), None);
    }
}
