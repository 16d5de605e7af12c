//! The queue between the frame thread and the inference thread, with the three behaviours a
//! pipeline can have when inference falls behind: drop the oldest waiting clip (a camera that
//! keeps only fresh work), queue everything (latency grows without bound), or block the
//! producer (a file read as fast as possible: nothing is lost, decoding waits).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// What happens to a clip that arrives while inference is busy (`--drop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropPolicy {
    /// Keep at most `depth` waiting clips; a new clip pushes out the oldest one.
    Oldest,
    /// Keep every clip; none is dropped, and latency grows when inference is too slow.
    Queue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Drop { depth: usize },
    Unbounded,
    Block { depth: usize },
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    max_len: usize,
}

/// A multi-producer, single-consumer queue with one of the [`Mode`]s.
#[derive(Debug)]
pub struct ClipQueue<T> {
    mode: Mode,
    state: Mutex<State<T>>,
    ready: Condvar,
    space: Condvar,
}

/// Why a push did not enqueue.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<T> {
    /// Enqueued; nothing was lost.
    Queued,
    /// Enqueued, and this older item was pushed out.
    Displaced(T),
    /// The consumer has gone; the producer should stop.
    Closed,
}

impl<T> ClipQueue<T> {
    pub fn new(mode: Mode) -> ClipQueue<T> {
        ClipQueue {
            mode,
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                max_len: 0,
            }),
            ready: Condvar::new(),
            space: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the queue half-updated (each update is
        // one VecDeque call), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, item: T) -> Pushed<T> {
        let mut s = self.lock();
        let mut displaced = None;
        match self.mode {
            Mode::Drop { depth } => {
                if s.items.len() >= depth.max(1) {
                    displaced = s.items.pop_front();
                }
            }
            Mode::Unbounded => {}
            Mode::Block { depth } => {
                while !s.closed && s.items.len() >= depth.max(1) {
                    s = self.space.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        if s.closed {
            return Pushed::Closed;
        }
        s.items.push_back(item);
        s.max_len = s.max_len.max(s.items.len());
        drop(s);
        self.ready.notify_one();
        match displaced {
            Some(d) => Pushed::Displaced(d),
            None => Pushed::Queued,
        }
    }

    /// Waits for the next item; `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                drop(s);
                self.space.notify_one();
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// No more pushes will be accepted; waiting pops drain what is left, then get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.space.notify_all();
    }

    /// Closes the queue and throws away what is waiting (the consumer stopped).
    pub fn abandon(&self) -> Vec<T> {
        let mut s = self.lock();
        s.closed = true;
        let rest = s.items.drain(..).collect();
        drop(s);
        self.ready.notify_all();
        self.space.notify_all();
        rest
    }

    /// The longest the queue has been.
    pub fn max_len(&self) -> usize {
        self.lock().max_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn drop_oldest_keeps_the_newest() {
        let q = ClipQueue::new(Mode::Drop { depth: 1 });
        assert_eq!(q.push(1), Pushed::Queued);
        assert_eq!(q.push(2), Pushed::Displaced(1));
        assert_eq!(q.push(3), Pushed::Displaced(2));
        q.close();
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), None);
        assert_eq!(q.push(4), Pushed::Closed);
    }

    #[test]
    fn unbounded_keeps_everything_in_order() {
        let q = ClipQueue::new(Mode::Unbounded);
        for i in 0..5 {
            assert_eq!(q.push(i), Pushed::Queued);
        }
        q.close();
        assert_eq!(
            std::iter::from_fn(|| q.pop()).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(q.max_len(), 5);
    }

    #[test]
    fn block_waits_for_the_consumer() {
        let q = Arc::new(ClipQueue::new(Mode::Block { depth: 2 }));
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    assert_eq!(q.push(i), Pushed::Queued);
                }
                q.close();
            })
        };
        let got: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
        producer.join().unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert!(q.max_len() <= 2);
    }

    #[test]
    fn abandon_releases_a_blocked_producer() {
        let q = Arc::new(ClipQueue::new(Mode::Block { depth: 1 }));
        q.push(0);
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || q.push(1))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(q.abandon(), vec![0]);
        assert_eq!(producer.join().unwrap(), Pushed::Closed);
    }
}
