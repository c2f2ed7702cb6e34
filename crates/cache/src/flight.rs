//! Coalescing: identical requests in flight at the same time share one upstream call.
//!
//! The first request for a key (the leader) opens a [`Flight`] and a task is spawned to make
//! the upstream call; every request (the leader's included) is a [`Subscription`] to the
//! flight. A streamed answer is recorded chunk by chunk in the flight, so a request that joins
//! late first receives the chunks already produced, then the rest as they come. An error goes
//! to every subscriber.
//!
//! The upstream call runs in its own task rather than in the leader's future, so a leader whose
//! client goes away does not take the answer away from the others. When every subscriber has
//! gone, the task drops the upstream call (so it stops costing tokens) and stores nothing.
//! Should the task die without an answer, every subscriber gets a clean error: a waiter can
//! never hang on a flight that no longer runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bulkhead_core::{
    CallReport, ChatChunk, ChatResponse, ChatStream, ChunkAccumulator, Error, ErrorKind, Nullable,
    Result,
};
use tokio::sync::{Notify, watch};

use crate::CacheKey;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// JSON and streaming requests coalesce separately: a streaming client must get its first
/// chunk as soon as upstream sends it, not when a JSON leader's whole answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlightKey {
    key: CacheKey,
    stream: bool,
}

/// The flights in progress.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<FlightKey, Arc<Flight>>>,
}

/// One shared upstream call and what it has produced so far.
#[derive(Debug)]
pub(crate) struct Flight {
    state: Mutex<State>,
    /// A receiver to clone for each subscriber; the sender lives in the [`Producer`].
    progress: watch::Receiver<u64>,
    /// Subscribers alive. Incremented only under the flights' map lock, so "zero and removed
    /// from the map" is one atomic decision.
    subscribers: AtomicUsize,
    /// Signalled when the last subscriber leaves.
    gone: Notify,
    /// The leader's report, whose deployment is copied into the followers'.
    leader_report: Option<CallReport>,
}

#[derive(Debug, Default)]
struct State {
    chunks: Vec<ChatChunk>,
    response: Option<Arc<ChatResponse>>,
    outcome: Option<Result<()>>,
}

impl Flights {
    /// Join the flight for `key`, or open one. The producer comes back only to the leader,
    /// who must spawn the upstream call with it.
    pub(crate) fn join(
        self: &Arc<Self>,
        key: CacheKey,
        stream: bool,
        report: Option<&CallReport>,
    ) -> (Subscription, Option<Producer>) {
        let fkey = FlightKey { key, stream };
        let mut map = lock(&self.map);
        if let Some(flight) = map.get(&fkey) {
            flight.subscribers.fetch_add(1, Ordering::AcqRel);
            let sub = Subscription::new(flight.clone(), false);
            return (sub, None);
        }
        let (tx, rx) = watch::channel(0);
        let flight = Arc::new(Flight {
            state: Mutex::new(State::default()),
            progress: rx,
            subscribers: AtomicUsize::new(1),
            gone: Notify::new(),
            leader_report: report.cloned(),
        });
        map.insert(fkey, flight.clone());
        drop(map);
        let producer = Producer {
            flight: flight.clone(),
            tx,
            flights: self.clone(),
            fkey,
        };
        (Subscription::new(flight, true), Some(producer))
    }

    /// Flights in progress (for tests and debugging).
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }

    fn remove(&self, fkey: &FlightKey, flight: &Arc<Flight>) {
        let mut map = lock(&self.map);
        if map.get(fkey).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            map.remove(fkey);
        }
    }
}

/// The side of a flight that the upstream task writes. Dropping it ends the flight: it leaves
/// the map, and subscribers still waiting get an error if no outcome was recorded.
#[derive(Debug)]
pub(crate) struct Producer {
    flight: Arc<Flight>,
    tx: watch::Sender<u64>,
    flights: Arc<Flights>,
    fkey: FlightKey,
}

impl Producer {
    fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Add a streamed chunk.
    pub(crate) fn push(&self, chunk: ChatChunk) {
        lock(&self.flight.state).chunks.push(chunk);
        self.notify();
    }

    /// End a JSON flight.
    pub(crate) fn finish_json(&self, result: Result<Arc<ChatResponse>>) {
        {
            let mut state = lock(&self.flight.state);
            match result {
                Ok(response) => {
                    state.response = Some(response);
                    state.outcome = Some(Ok(()));
                }
                Err(error) => state.outcome = Some(Err(error)),
            }
        }
        self.notify();
    }

    /// End a streaming flight: `Ok` when the stream ended, the error that cut it otherwise.
    pub(crate) fn finish_stream(&self, result: Result<()>) {
        lock(&self.flight.state).outcome = Some(result);
        self.notify();
    }

    /// Resolves once every subscriber has gone and the flight has left the map (so nobody can
    /// join any more); the upstream call should then be dropped.
    pub(crate) async fn abandoned(&self) {
        loop {
            self.flight.gone.notified().await;
            let mut map = lock(&self.flights.map);
            if self.flight.subscribers.load(Ordering::Acquire) == 0 {
                if map
                    .get(&self.fkey)
                    .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
                {
                    map.remove(&self.fkey);
                }
                return;
            }
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.flights.remove(&self.fkey, &self.flight);
        let mut state = lock(&self.flight.state);
        if state.outcome.is_none() {
            state.outcome = Some(Err(Error::new(
                ErrorKind::Internal,
                "the shared upstream call ended without an answer",
            )));
            drop(state);
            self.notify();
        }
    }
}

/// One request's view of a flight. Dropping it leaves the flight.
#[derive(Debug)]
pub(crate) struct Subscription {
    flight: Arc<Flight>,
    rx: watch::Receiver<u64>,
    leader: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.flight.subscribers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // A stored permit if the producer is not waiting yet: it will see zero either way.
            self.flight.gone.notify_one();
        }
    }
}

/// What a stream subscriber reads next.
enum Next {
    Chunk(ChatChunk),
    End,
    Failed(Error),
}

impl Subscription {
    fn new(flight: Arc<Flight>, leader: bool) -> Self {
        let rx = flight.progress.clone();
        Subscription { flight, rx, leader }
    }

    /// Wait until `f` finds something in the state. Returns `None` only if the producer is
    /// gone and `f` still finds nothing (which `Producer`'s drop rules out).
    async fn wait<T>(&mut self, mut f: impl FnMut(&State) -> Option<T>) -> Option<T> {
        loop {
            // Mark the current version seen *before* looking, so a change made after the look
            // wakes `changed()` below.
            self.rx.borrow_and_update();
            if let Some(found) = f(&lock(&self.flight.state)) {
                return Some(found);
            }
            if self.rx.changed().await.is_err() {
                return f(&lock(&self.flight.state));
            }
        }
    }

    fn vanished() -> Error {
        Error::new(
            ErrorKind::Internal,
            "the shared upstream call ended without an answer",
        )
    }

    /// Copy the deployment that answered the leader into this follower's report.
    fn copy_report(&self, report: Option<&CallReport>) {
        if self.leader {
            return;
        }
        let (Some(mine), Some(leader)) = (report, &self.flight.leader_report) else {
            return;
        };
        if let Some(deployment) = leader.deployment() {
            mine.set_deployment(deployment);
        }
    }

    /// The whole answer: the JSON response, or the chunks of a stream folded into one.
    pub(crate) async fn response(&mut self, report: Option<&CallReport>) -> Result<ChatResponse> {
        let result = self
            .wait(|s| match &s.outcome {
                None => None,
                Some(Err(e)) => Some(Err(e.clone())),
                Some(Ok(())) => Some(Ok(match &s.response {
                    Some(response) => ChatResponse::clone(response),
                    None => {
                        let mut acc = ChunkAccumulator::new();
                        s.chunks.iter().for_each(|c| acc.push(c));
                        acc.finish()
                    }
                })),
            })
            .await
            .unwrap_or_else(|| Err(Self::vanished()));
        self.copy_report(report);
        result
    }

    /// Wait for the stream's first chunk or its end. An error before any chunk is returned
    /// here, as `ChatModel::stream` promises for errors before the answer starts.
    pub(crate) async fn first_event(&mut self, report: Option<&CallReport>) -> Result<()> {
        let result = self
            .wait(|s| {
                if !s.chunks.is_empty() {
                    return Some(Ok(()));
                }
                match &s.outcome {
                    None => None,
                    Some(Ok(())) => Some(Ok(())),
                    Some(Err(e)) => Some(Err(e.clone())),
                }
            })
            .await
            .unwrap_or_else(|| Err(Self::vanished()));
        self.copy_report(report);
        result
    }

    /// The chunks from the first one: those already produced, then the rest as they come.
    ///
    /// The shared call always asks for usage (so a stored stream can be replayed with it);
    /// a subscriber that did not (`wants_usage == false`) gets the chunks without it, as the
    /// upstream would have sent them.
    pub(crate) fn into_stream(self, wants_usage: bool) -> ChatStream {
        let stream = futures_util::stream::unfold(
            (self, 0usize, false),
            move |(mut sub, mut at, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let next = sub
                        .wait(|s| {
                            if let Some(chunk) = s.chunks.get(at) {
                                return Some(Next::Chunk(chunk.clone()));
                            }
                            match &s.outcome {
                                None => None,
                                Some(Ok(())) => Some(Next::End),
                                Some(Err(e)) => Some(Next::Failed(e.clone())),
                            }
                        })
                        .await
                        .unwrap_or_else(|| Next::Failed(Self::vanished()));
                    match next {
                        Next::Chunk(mut chunk) => {
                            at += 1;
                            if !wants_usage {
                                if chunk.choices.is_empty() && !chunk.usage.is_absent() {
                                    continue;
                                }
                                chunk.usage = Nullable::Absent;
                            }
                            return Some((Ok(chunk), (sub, at, false)));
                        }
                        Next::End => return None,
                        Next::Failed(error) => return Some((Err(error), (sub, at, true))),
                    }
                }
            },
        );
        Box::pin(stream)
    }
}
