//! Two halves of a large job on the machine's cores, joined in order.

/// From this many items (rules, segments, sources) a job is split in two;
/// below it a thread costs more than it saves.
pub(crate) const SPLIT_FROM: usize = 256;

/// Run `front` on this thread and `back` on another, and return both. Where
/// the system will not start a thread (a process or memory limit), `back`
/// runs here after `front`: the same result, only slower, and no panic.
pub(crate) fn join<A, B>(front: impl FnOnce() -> A, back: impl Fn() -> B + Sync) -> (A, B)
where
    B: Send,
{
    join_with(front, back, true)
}

fn join_with<A, B>(front: impl FnOnce() -> A, back: impl Fn() -> B + Sync, thread: bool) -> (A, B)
where
    B: Send,
{
    std::thread::scope(|s| {
        let worker = if thread {
            std::thread::Builder::new().spawn_scoped(s, &back).ok()
        } else {
            None
        };
        let a = front();
        let b = match worker {
            Some(h) => match h.join() {
                Ok(b) => b,
                // The halves only compute; a panic there is a panic here.
                Err(e) => std::panic::resume_unwind(e),
            },
            None => back(),
        };
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::join_with;

    #[test]
    fn both_halves_come_back_in_order_with_or_without_a_thread() {
        let data: Vec<u32> = (0..1000).collect();
        let (front, back) = data.split_at(400);
        for thread in [true, false] {
            let (a, b) = join_with(
                || front.iter().sum::<u32>(),
                || back.iter().map(|x| x * 2).collect::<Vec<_>>(),
                thread,
            );
            assert_eq!(a, (0..400).sum::<u32>());
            assert_eq!(b, (400..1000).map(|x| x * 2).collect::<Vec<_>>());
        }
    }
}
