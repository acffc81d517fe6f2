//! Per-thread scratch values that stay usable in awkward moments.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Runs `f` with this thread's value of `key`, or with a fresh value when the thread's one is
/// in use (a re-entrant call: logging from inside an encoder) or already destroyed (logging
/// from another thread-local's destructor). Never panics for either reason.
pub(crate) fn with_local<T: Default + 'static, R>(
    key: &'static LocalKey<RefCell<T>>,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let mut f = Some(f);
    let mut call = |value: &mut T| f.take().map(|f| f(value));
    let done = key.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut value) => call(&mut value),
        Err(_) => call(&mut T::default()),
    });
    match done {
        Ok(Some(result)) => result,
        _ => call(&mut T::default()).unwrap_or_else(|| unreachable!("`f` runs exactly once")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static VALUE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    }

    #[test]
    fn reentrant_calls_get_a_fresh_value() {
        let outer = with_local(&VALUE, |v| {
            v.push(1);
            let inner = with_local(&VALUE, |v2| {
                v2.push(2);
                v2.len()
            });
            (v.len(), inner)
        });
        assert_eq!(outer, (1, 1));
        assert_eq!(with_local(&VALUE, |v| v.clone()), [1]);
    }

    #[test]
    fn works_from_a_thread_local_destructor() {
        struct LogsOnDrop;
        impl Drop for LogsOnDrop {
            fn drop(&mut self) {
                // VALUE may already be destroyed here; this must not panic.
                with_local(&VALUE, |v| v.push(3));
            }
        }
        thread_local! {
            static GUARD: RefCell<Option<LogsOnDrop>> = const { RefCell::new(None) };
        }
        std::thread::spawn(|| {
            with_local(&VALUE, |v| v.push(1));
            GUARD.with(|g| *g.borrow_mut() = Some(LogsOnDrop));
        })
        .join()
        .unwrap();
    }
}
