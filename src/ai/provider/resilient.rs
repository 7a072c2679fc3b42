//! A [`Provider`] around another one that adds what a flaky network and a busy model need:
//! a timeout on the first event and on every silence after it, retries with exponential
//! backoff and jitter on errors worth retrying, and a circuit breaker so a dead provider
//! fails fast and says so instead of making every turn wait out its timeouts.
//!
//! A retry happens only while nothing has reached the caller: once text has been forwarded,
//! sending the request again would repeat it, so the error is returned instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{ChatRequest, Provider, ProviderError, ProviderInfo, StreamEvent, StreamFuture};

/// The time the circuit breaker reads; tests pass one they move by hand.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResilientSettings {
    /// Longest wait for the first event and between two events.
    pub timeout: Duration,
    /// Attempts after the first one.
    pub max_retries: u32,
    /// The first retry waits about this long; each next one twice as long.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited out: the turn fails and says so.
    pub max_retry_after: Duration,
    /// This many failed requests in a row open the circuit…
    pub breaker_failures: u32,
    /// …for this long.
    pub breaker_cooldown: Duration,
}

impl Default for ResilientSettings {
    fn default() -> Self {
        ResilientSettings {
            timeout: Duration::from_secs(60),
            max_retries: 2,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

pub struct Resilient {
    inner: Arc<dyn Provider>,
    settings: ResilientSettings,
    clock: Arc<dyn Clock>,
    breaker: Mutex<Breaker>,
}

impl Resilient {
    pub fn new(inner: Arc<dyn Provider>, settings: ResilientSettings) -> Self {
        Self::with_clock(inner, settings, Arc::new(SystemClock))
    }

    pub fn with_clock(
        inner: Arc<dyn Provider>,
        settings: ResilientSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Resilient {
            inner,
            settings,
            clock,
            breaker: Mutex::new(Breaker::default()),
        }
    }

    pub fn settings(&self) -> &ResilientSettings {
        &self.settings
    }

    /// Failed requests in a row so far (0 after a success).
    pub fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive_failures
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic while holding this lock leaves only counters behind; they are still usable.
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn provider_name(&self) -> String {
        self.inner.info().kind
    }

    async fn run(
        &self,
        request: &ChatRequest,
        events: mpsc::Sender<StreamEvent>,
    ) -> Result<(), ProviderError> {
        self.check_circuit()?;
        let mut retries = 0;
        loop {
            let (result, forwarded) = self.attempt(request, &events).await;
            let error = match result {
                Ok(()) => {
                    *self.lock() = Breaker::default();
                    return Ok(());
                }
                Err(error) => error,
            };
            if !forwarded
                && retries < self.settings.max_retries
                && retryable(&error)
                && let Some(delay) = self.delay(retries, &error)
            {
                retries += 1;
                tracing::debug!(%error, ?delay, retries, "retrying the model request");
                tokio::time::sleep(delay).await;
                continue;
            }
            self.record_failure(&error);
            return Err(error);
        }
    }

    fn check_circuit(&self) -> Result<(), ProviderError> {
        let breaker = self.lock();
        let now = self.clock.now();
        match breaker.open_until {
            Some(until) if now < until => Err(ProviderError::CircuitOpen {
                provider: self.provider_name(),
                failures: breaker.consecutive_failures,
                retry_in_secs: (until - now).as_secs_f64().ceil() as u64,
            }),
            // Closed, or the cooldown is over and this request is the trial: one more
            // failure opens it again straight away, a success closes it.
            _ => Ok(()),
        }
    }

    fn record_failure(&self, error: &ProviderError) {
        if !counts_against_provider(error) {
            return;
        }
        let mut breaker = self.lock();
        breaker.consecutive_failures = breaker.consecutive_failures.saturating_add(1);
        if breaker.consecutive_failures >= self.settings.breaker_failures.max(1) {
            breaker.open_until = Some(self.clock.now() + self.settings.breaker_cooldown);
        }
    }

    /// How long to wait before retry number `retries + 1`, or `None` to give up.
    fn delay(&self, retries: u32, error: &ProviderError) -> Option<Duration> {
        if let ProviderError::RateLimited {
            retry_after_secs: Some(secs),
            ..
        } = error
        {
            let wait = Duration::from_secs(*secs);
            return (wait <= self.settings.max_retry_after).then_some(wait);
        }
        let exponential = self
            .settings
            .backoff_base
            .saturating_mul(2u32.saturating_pow(retries))
            .min(self.settings.backoff_max);
        // Jitter in [half, full] keeps clients that failed together from retrying together.
        let nanos = exponential.as_nanos().min(u64::MAX as u128) as u64;
        Some(Duration::from_nanos(
            nanos / 2 + fastrand::u64(0..=nanos / 2),
        ))
    }

    /// One try: the inner stream forwarded to the caller under the timeout. Returns whether
    /// anything reached the caller.
    async fn attempt(
        &self,
        request: &ChatRequest,
        events: &mpsc::Sender<StreamEvent>,
    ) -> (Result<(), ProviderError>, bool) {
        let (sender, mut receiver) = mpsc::channel(64);
        let inner = self.inner.stream(request, sender);
        tokio::pin!(inner);
        let mut forwarded = false;
        let mut finished: Option<Result<(), ProviderError>> = None;
        loop {
            tokio::select! {
                biased;
                event = receiver.recv() => match event {
                    Some(event) => {
                        forwarded = true;
                        if events.send(event).await.is_err() {
                            // The caller stopped listening; the rest is nobody's.
                            return (Ok(()), true);
                        }
                    }
                    // The inner stream dropped its sender: it has ended or is ending.
                    None => {
                        let result = match finished.take() {
                            Some(result) => result,
                            None => inner.await,
                        };
                        return (result, forwarded);
                    }
                },
                result = &mut inner, if finished.is_none() => finished = Some(result),
                _ = tokio::time::sleep(self.settings.timeout) => {
                    let error = ProviderError::Timeout {
                        provider: self.provider_name(),
                        seconds: self.settings.timeout.as_secs().max(1),
                    };
                    return (Err(error), forwarded);
                }
            }
        }
    }
}

impl Provider for Resilient {
    fn info(&self) -> ProviderInfo {
        self.inner.info()
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::Sender<StreamEvent>,
    ) -> StreamFuture<'a> {
        Box::pin(self.run(request, events))
    }
}

/// Errors another try may not repeat: the network, rate limits, overload, server errors.
fn retryable(error: &ProviderError) -> bool {
    match error {
        ProviderError::Unreachable { .. }
        | ProviderError::Timeout { .. }
        | ProviderError::RateLimited { .. }
        | ProviderError::Overloaded { .. }
        | ProviderError::Cut { .. } => true,
        ProviderError::Status { status, .. } => (500..600).contains(status),
        ProviderError::Auth { .. }
        | ProviderError::Protocol { .. }
        | ProviderError::CircuitOpen { .. } => false,
    }
}

/// A refused key or a request the server calls wrong is the configuration's fault, not a
/// sign the provider is down, so it does not open the circuit.
fn counts_against_provider(error: &ProviderError) -> bool {
    match error {
        ProviderError::Auth { .. } | ProviderError::CircuitOpen { .. } => false,
        ProviderError::Status { status, .. } => !(400..500).contains(status),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::provider::StopReason;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// What one scripted attempt does.
    enum Step {
        Fail(ProviderError),
        TextThenFail(ProviderError),
        Succeed,
        Hang,
    }

    struct Scripted {
        steps: Mutex<VecDeque<Step>>,
        calls: AtomicU32,
    }

    impl Scripted {
        fn new(steps: Vec<Step>) -> Arc<Self> {
            Arc::new(Scripted {
                steps: Mutex::new(steps.into()),
                calls: AtomicU32::new(0),
            })
        }
    }

    impl Provider for Scripted {
        fn info(&self) -> ProviderInfo {
            ProviderInfo {
                kind: "scripted".into(),
                model: "m".into(),
                base_url: String::new(),
            }
        }

        fn stream<'a>(
            &'a self,
            _request: &'a ChatRequest,
            events: mpsc::Sender<StreamEvent>,
        ) -> StreamFuture<'a> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let step = self
                .steps
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Step::Succeed);
            Box::pin(async move {
                match step {
                    Step::Fail(e) => Err(e),
                    Step::TextThenFail(e) => {
                        let _ = events.send(StreamEvent::Text("partial".into())).await;
                        Err(e)
                    }
                    Step::Succeed => {
                        let _ = events.send(StreamEvent::Text("ok".into())).await;
                        let _ = events.send(StreamEvent::Stop(StopReason::EndTurn)).await;
                        Ok(())
                    }
                    Step::Hang => {
                        std::future::pending::<()>().await;
                        Ok(())
                    }
                }
            })
        }
    }

    struct ManualClock(Mutex<Instant>);

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn fast() -> ResilientSettings {
        ResilientSettings {
            timeout: Duration::from_millis(200),
            max_retries: 2,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
            max_retry_after: Duration::from_secs(1),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            system: String::new(),
            messages: vec![],
            tools: vec![],
            max_tokens: 10,
        }
    }

    async fn run(provider: &Resilient) -> (Result<(), ProviderError>, Vec<StreamEvent>) {
        let (tx, mut rx) = mpsc::channel(16);
        let result = provider.stream(&request(), tx).await;
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (result, events)
    }

    fn overloaded() -> ProviderError {
        ProviderError::Overloaded {
            provider: "scripted".into(),
            message: "busy".into(),
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_forwards_once() {
        let inner = Scripted::new(vec![
            Step::Fail(overloaded()),
            Step::Fail(ProviderError::Status {
                provider: "s".into(),
                status: 503,
                message: "x".into(),
            }),
            Step::Succeed,
        ]);
        let provider = Resilient::new(inner.clone(), fast());
        let (result, events) = run(&provider).await;
        assert_eq!(result, Ok(()));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        assert_eq!(events.len(), 2);
    }

    #[tokio::test]
    async fn never_retries_after_text_was_forwarded() {
        let inner = Scripted::new(vec![Step::TextThenFail(ProviderError::Cut {
            provider: "s".into(),
        })]);
        let provider = Resilient::new(inner.clone(), fast());
        let (result, events) = run(&provider).await;
        assert!(matches!(result, Err(ProviderError::Cut { .. })));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert_eq!(events, vec![StreamEvent::Text("partial".into())]);
    }

    #[tokio::test]
    async fn auth_errors_are_not_retried_and_do_not_open_the_circuit() {
        let auth = || ProviderError::Auth {
            provider: "s".into(),
            message: "bad key".into(),
        };
        let inner = Scripted::new(vec![
            Step::Fail(auth()),
            Step::Fail(auth()),
            Step::Fail(auth()),
        ]);
        let provider = Resilient::new(inner.clone(), fast());
        for _ in 0..3 {
            assert!(matches!(
                run(&provider).await.0,
                Err(ProviderError::Auth { .. })
            ));
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_silent_provider_times_out() {
        let inner = Scripted::new(vec![Step::Hang]);
        let mut settings = fast();
        settings.max_retries = 0;
        let provider = Resilient::new(inner, settings);
        assert!(matches!(
            run(&provider).await.0,
            Err(ProviderError::Timeout { .. })
        ));
    }

    #[tokio::test]
    async fn a_retry_after_longer_than_allowed_is_not_waited_out() {
        let inner = Scripted::new(vec![Step::Fail(ProviderError::RateLimited {
            provider: "s".into(),
            message: "slow down".into(),
            retry_after_secs: Some(3600),
        })]);
        let provider = Resilient::new(inner.clone(), fast());
        assert!(matches!(
            run(&provider).await.0,
            Err(ProviderError::RateLimited { .. })
        ));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_circuit_opens_fails_fast_and_closes_after_a_successful_trial() {
        let start = Instant::now();
        let clock = Arc::new(ManualClock(Mutex::new(start)));
        let down = || ProviderError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
        };
        let mut settings = fast();
        settings.max_retries = 0;
        let inner = Scripted::new(vec![
            Step::Fail(down()),
            Step::Fail(down()),
            Step::Fail(down()),
            Step::Succeed,
        ]);
        let provider = Resilient::with_clock(inner.clone(), settings, clock.clone());
        run(&provider).await.0.unwrap_err();
        run(&provider).await.0.unwrap_err();
        let open = run(&provider).await.0;
        assert!(
            matches!(
                open,
                Err(ProviderError::CircuitOpen {
                    failures: 2,
                    retry_in_secs: 30,
                    ..
                })
            ),
            "{open:?}"
        );
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            2,
            "open means not called"
        );

        // After the cooldown one trial goes through; it fails, so the circuit opens again.
        *clock.0.lock().unwrap() = start + Duration::from_secs(31);
        assert!(matches!(
            run(&provider).await.0,
            Err(ProviderError::Unreachable { .. })
        ));
        assert!(matches!(
            run(&provider).await.0,
            Err(ProviderError::CircuitOpen { .. })
        ));

        *clock.0.lock().unwrap() = start + Duration::from_secs(62);
        assert_eq!(run(&provider).await.0, Ok(()));
        assert_eq!(provider.consecutive_failures(), 0);
        assert_eq!(run(&provider).await.0, Ok(()));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_the_cap() {
        let provider = Resilient::new(Scripted::new(vec![]), ResilientSettings::default());
        let error = overloaded();
        for retries in 0..10 {
            let delay = provider.delay(retries, &error).unwrap();
            let full = Duration::from_millis(500)
                .saturating_mul(2u32.pow(retries))
                .min(Duration::from_secs(8));
            assert!(delay >= full / 2 && delay <= full, "{retries}: {delay:?}");
        }
    }
}
