//! The alias graph: cycle detection and each alias's flattened fallback chain.
//!
//! Edges are fallbacks and context-window jumps. A cycle is rejected at build time rather
//! than cut at run time, because it always means a typo or a misunderstanding, and a chain
//! that can come back to its start has no obvious order to report.

/// `edges[i]`: the aliases `i` may hand a request to. Returns the first cycle found, as
/// indices with the first repeated at the end.
pub(crate) fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(i: usize, edges: &[Vec<usize>], marks: &mut [Mark], path: &mut Vec<usize>) -> bool {
        marks[i] = Mark::Open;
        path.push(i);
        for &j in &edges[i] {
            let mark = marks[j];
            match mark {
                Mark::Open => {
                    let start = path.iter().position(|&p| p == j).unwrap_or(0);
                    path.drain(..start);
                    path.push(j);
                    return true;
                }
                Mark::New if visit(j, edges, marks, path) => return true,
                _ => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        false
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut path = Vec::new();
    (0..edges.len()).find_map(|i| {
        (marks[i] == Mark::New && visit(i, edges, &mut marks, &mut path)).then(|| path.clone())
    })
}

/// The aliases tried for a request to `start`, in order: `start`, then each fallback as it
/// would serve the request itself (its own fallbacks included), each alias once. The graph
/// must be acyclic.
pub(crate) fn chain(start: usize, fallbacks: &[Vec<usize>]) -> Vec<usize> {
    fn walk(i: usize, fallbacks: &[Vec<usize>], out: &mut Vec<usize>) {
        if out.contains(&i) {
            return;
        }
        out.push(i);
        for &j in &fallbacks[i] {
            walk(j, fallbacks, out);
        }
    }
    let mut out = Vec::new();
    walk(start, fallbacks, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_with_their_path() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![1]]),
            Some(vec![1, 2, 1])
        );
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }

    #[test]
    fn chains_follow_fallbacks_depth_first_each_alias_once() {
        let fallbacks = [vec![1, 2], vec![2], vec![]];
        assert_eq!(chain(0, &fallbacks), [0, 1, 2]);
        assert_eq!(chain(2, &fallbacks), [2]);
    }
}
