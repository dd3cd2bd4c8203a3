//! Copies of bulk data that bypass the CPU caches.
//!
//! A volume's whole 1 MiB leaves (see `page::Extent`) are what a host's large writes bring: the
//! model keeps them and reads them again only when someone reads the volume or replicates a
//! change. A plain copy would pull every destination line into the caches (after reading it
//! first, for ownership) and push out what the model works on between such writes: its trie
//! nodes, reference counts, repository and code. Measured on the recovery engine's bench
//! (`docs/benchmarks.md`, "Bulk writes bypass the caches"), a 16 MiB change copied the usual way
//! made the backup after it about a third slower than a streamed one, and the copy itself
//! about a third slower too.
//!
//! Non-temporal stores (`movntdq`) send the bytes toward memory without allocating cache lines
//! and without reading the destination first. They are weakly ordered, so the copy ends with a
//! store fence before anything else can touch the destination. x86-64 has them in its baseline
//! (SSE2); elsewhere the copy is a plain one.

/// Copies `source` into `target`, which must be as long, with non-temporal stores where the
/// target has them (x86-64: the 16-byte aligned part of `target`; its unaligned ends are copied
/// plainly). Fenced before it returns, so the bytes are in place for any later access.
///
/// # Panics
/// When the lengths differ.
pub(crate) fn copy_streaming(target: &mut [u8], source: &[u8]) {
    assert_eq!(target.len(), source.len(), "a streaming copy's source and target are as long");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};

        const LANE: usize = 16;
        // `align_offset` may answer "cannot" (usize::MAX): then everything is the head.
        let head = target.as_ptr().align_offset(LANE).min(target.len());
        let body_end = head + (target.len() - head) / LANE * LANE;
        target[..head].copy_from_slice(&source[..head]);
        for (to, from) in target[head..body_end].chunks_exact_mut(LANE).zip(source[head..body_end].chunks_exact(LANE)) {
            // SAFETY: `from` is 16 readable bytes (an unaligned load is allowed); `to` is 16
            // writable bytes whose start is 16-byte aligned (it is `head` plus a multiple of 16
            // from an address `align_offset` aligned), as `_mm_stream_si128` requires. SSE2 is
            // part of every x86-64 target.
            unsafe {
                let lane = _mm_loadu_si128(from.as_ptr().cast::<__m128i>());
                _mm_stream_si128(to.as_mut_ptr().cast::<__m128i>(), lane);
            }
        }
        // SAFETY: a store fence has no memory operands. It orders the non-temporal stores above
        // before every later store (and, on x86, every later load sees them), as the intrinsic's
        // documentation requires before the memory is accessed again.
        unsafe { _mm_sfence() };
        target[body_end..].copy_from_slice(&source[body_end..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    target.copy_from_slice(source);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the alignment of either side and the length, the target ends up holding
        /// exactly the source, and no byte around it changes.
        #[test]
        fn copies_exactly_the_source(
            target_start in 0usize..48,
            source_start in 0usize..48,
            len in 0usize..300,
            seed in any::<u8>(),
        ) {
            let source: Vec<u8> =
                (0..source_start + len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut target = vec![0xEEu8; target_start + len + 32];
            copy_streaming(&mut target[target_start..target_start + len], &source[source_start..]);
            prop_assert_eq!(&target[target_start..target_start + len], &source[source_start..]);
            prop_assert!(target[..target_start].iter().all(|&b| b == 0xEE));
            prop_assert!(target[target_start + len..].iter().all(|&b| b == 0xEE));
        }
    }

    #[test]
    fn copies_a_whole_extent() {
        let source: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
        let mut target = vec![0u8; 1 << 20];
        copy_streaming(&mut target, &source);
        assert!(target == source);
    }

    #[test]
    #[should_panic(expected = "as long")]
    fn refuses_lengths_that_differ() {
        copy_streaming(&mut [0u8; 4], &[1u8; 5]);
    }
}
