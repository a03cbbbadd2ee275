//! Duplicate groups among the records of one entity, found in one pass
//! over them: records whose match key is the same (SPEC.md, "Duplicates
//! against the CRM"), then near-duplicates (the same name but for a legal
//! suffix, "The", punctuation, or a typo).
//!
//! A record is kept as a position (its place in the pass); keys are kept as
//! 64-bit hashes, names only for the near-duplicates' typo search, so a
//! million records cost some tens of megabytes, not their text.

use std::collections::HashMap;

use crate::duplicates::{NEAR_BLOCK, NEAR_SIMILARITY, near_key, near_prefix, near_suffix};

/// No position: the end of a chain.
const NONE: u32 = u32::MAX;

/// Records of one key, chained: `head` holds the last record of each key,
/// `chain[p]` the record before `p` with the same key.
#[derive(Debug, Default)]
struct Chains {
    head: HashMap<u64, u32>,
    chain: Vec<u32>,
    /// Keys held by more than one record, in the order they first repeated.
    repeated: Vec<u64>,
}

impl Chains {
    fn add(&mut self, position: u32, key: Option<u64>) {
        let previous = match key {
            Some(key) => match self.head.insert(key, position) {
                Some(previous) => {
                    if self.chain.get(previous as usize) == Some(&NONE) {
                        // The key's second record: it repeats from now on.
                        self.repeated.push(key);
                    }
                    previous
                }
                None => NONE,
            },
            None => NONE,
        };
        self.chain.push(previous);
    }

    /// The records of `key`, first to last.
    fn members(&self, key: u64) -> Vec<u32> {
        let mut members = Vec::new();
        let mut position = self.head.get(&key).copied().unwrap_or(NONE);
        while position != NONE {
            members.push(position);
            position = self.chain.get(position as usize).copied().unwrap_or(NONE);
        }
        members.reverse();
        members
    }
}

/// What finds the groups: fed every record of the pass in turn.
#[derive(Debug, Default)]
pub(crate) struct GroupFinder {
    exact: Chains,
    /// The hash of each record's `unless_differ` value (0 for none).
    differ: Vec<u64>,
    /// Near keys, for organizations (empty otherwise).
    near: Option<NearKeys>,
    hasher: ahash::RandomState,
}

/// Near keys of every record, and the blocks a typo is looked for in.
#[derive(Debug, Default)]
struct NearKeys {
    same: Chains,
    text: String,
    ends: Vec<u32>,
    /// Positions by the hash of their near key's first, and last, five
    /// characters; a block past [`NEAR_BLOCK`] is not compared.
    blocks: HashMap<u64, Vec<u32>>,
}

/// One group: positions of its records in the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundGroup {
    /// Only near: no two of its records share a match key... or some do,
    /// but others join them only by a near key.
    pub near: bool,
    pub members: Vec<u32>,
}

impl GroupFinder {
    /// A finder; `near` looks for near-duplicates of names too.
    pub fn new(near: bool) -> GroupFinder {
        GroupFinder {
            near: near.then(NearKeys::default),
            ..GroupFinder::default()
        }
    }

    /// Room for about `records` records, so the maps do not grow by
    /// rehashing as the pass goes.
    pub fn reserve(&mut self, records: usize) {
        self.exact.head.reserve(records);
        self.exact.chain.reserve(records);
        self.differ.reserve(records);
        if let Some(near) = &mut self.near {
            near.same.head.reserve(records);
            near.same.chain.reserve(records);
            near.ends.reserve(records);
        }
    }

    /// The next record: its match key parts (`None`: it fills no key), the
    /// value that keeps records of one key apart when both have it and it
    /// differs, and its name for near-duplicates.
    pub fn add(&mut self, key: Option<&[&str]>, differ: Option<&str>, name: Option<&str>) {
        let position = u32::try_from(self.differ.len()).unwrap_or(NONE);
        self.exact
            .add(position, key.map(|k| self.hasher.hash_one(k)));
        self.differ.push(
            differ
                .filter(|d| !d.is_empty())
                .map_or(0, |d| self.hasher.hash_one(d)),
        );
        if let Some(near) = &mut self.near {
            let key = name.map(near_key).unwrap_or_default();
            near.add(position, &key, &self.hasher);
        }
    }

    /// Every group, exact ones first. A near group holds the copies of an
    /// exact group it joins, and says nothing when it is one exact group.
    pub fn finish(self) -> Vec<FoundGroup> {
        let mut groups = Vec::new();
        for key in &self.exact.repeated {
            for members in self.split_by_differ(self.exact.members(*key)) {
                groups.push(FoundGroup {
                    near: false,
                    members,
                });
            }
        }
        if let Some(near) = &self.near {
            let exact: Vec<&[u32]> = groups.iter().map(|g| g.members.as_slice()).collect();
            let mut grouped = vec![false; self.differ.len()];
            let mut exact_of = vec![NONE; self.differ.len()];
            for (number, members) in exact.iter().enumerate() {
                for member in *members {
                    grouped[*member as usize] = true;
                    exact_of[*member as usize] = u32::try_from(number).unwrap_or(NONE);
                }
            }
            let mut near_groups = Vec::new();
            for members in near.groups(&exact, &self.differ) {
                let first = exact_of[members[0] as usize];
                if first != NONE && members.iter().all(|m| exact_of[*m as usize] == first) {
                    continue;
                }
                near_groups.push(FoundGroup {
                    near: true,
                    members,
                });
            }
            groups.extend(near_groups);
        }
        groups
    }

    /// Records of one key apart by their `unless_differ` value: one group
    /// when at most one value is among them; else one per value (records
    /// without one could be any of them, so they go in none).
    fn split_by_differ(&self, members: Vec<u32>) -> Vec<Vec<u32>> {
        let differ = |m: &u32| self.differ.get(*m as usize).copied().unwrap_or(0);
        let mut values: Vec<u64> = members.iter().map(differ).filter(|d| *d != 0).collect();
        values.sort_unstable();
        values.dedup();
        if values.len() <= 1 {
            return vec![members];
        }
        values
            .into_iter()
            .map(|value| {
                members
                    .iter()
                    .copied()
                    .filter(|m| differ(m) == value)
                    .collect::<Vec<_>>()
            })
            .filter(|group| group.len() > 1)
            .collect()
    }
}

impl NearKeys {
    fn add(&mut self, position: u32, key: &str, hasher: &ahash::RandomState) {
        self.text.push_str(key);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(NONE));
        if key.is_empty() {
            self.same.add(position, None);
            return;
        }
        self.same.add(position, Some(hasher.hash_one(key)));
        // The import's blocks (`near_prefix`, `near_suffix`), as slices of
        // the key: a million names need no million strings for them.
        let chars = key.chars().count();
        let at = |n: usize| key.char_indices().nth(n).map_or(key.len(), |(i, _)| i);
        let prefix = key.get(..at(5)).unwrap_or(key);
        let suffix = key.get(at(chars.saturating_sub(5))..).unwrap_or(key);
        debug_assert_eq!(
            (prefix, suffix),
            (near_prefix(key).as_str(), near_suffix(key).as_str())
        );
        for block in [
            hasher.hash_one(("prefix", prefix)),
            hasher.hash_one(("suffix", suffix)),
        ] {
            let block = self.blocks.entry(block).or_default();
            // One past the limit marks the block too big to compare.
            if block.len() <= NEAR_BLOCK {
                block.push(position);
            }
        }
    }

    fn key(&self, position: u32) -> &str {
        let end = self.ends.get(position as usize).copied().unwrap_or(0) as usize;
        let start = match position {
            0 => 0,
            p => self.ends.get(p as usize - 1).copied().unwrap_or(0) as usize,
        };
        self.text.get(start..end).unwrap_or_default()
    }

    /// Records joined by the same near key or a typo, as groups of two or
    /// more, by union-find over the positions. Two records whose
    /// `differ` values (cities) are both given and differ are never joined
    /// directly: the same name in another city is another organization.
    fn groups(&self, exact: &[&[u32]], differ: &[u64]) -> Vec<Vec<u32>> {
        let apart = |a: u32, b: u32| {
            let (a, b) = (differ[a as usize], differ[b as usize]);
            a != 0 && b != 0 && a != b
        };
        let mut sets = UnionFind::new(self.ends.len());
        for key in &self.same.repeated {
            let members = self.same.members(*key);
            for (i, a) in members.iter().take(NEAR_BLOCK).enumerate() {
                for b in members.iter().take(NEAR_BLOCK).skip(i + 1) {
                    if !apart(*a, *b) {
                        sets.union(*a, *b);
                    }
                }
            }
        }
        for block in self.blocks.values() {
            if block.len() < 2 || block.len() > NEAR_BLOCK {
                continue;
            }
            for (i, a) in block.iter().enumerate() {
                for b in &block[i + 1..] {
                    if !apart(*a, *b) && self.typo_apart(self.key(*a), self.key(*b)) {
                        sets.union(*a, *b);
                    }
                }
            }
        }
        // The copies of an exact group are one record here: a near group
        // that reaches one names them all.
        for members in exact {
            if sets.has_any(members) {
                for pair in members.windows(2) {
                    sets.union(pair[0], pair[1]);
                }
            }
        }
        sets.groups()
    }

    /// Whether two different near keys are one typo apart: similar by the
    /// import's measure ([`NEAR_SIMILARITY`]); lengths are compared first,
    /// since most pairs differ by more than a typo.
    fn typo_apart(&self, a: &str, b: &str) -> bool {
        if a == b {
            return false;
        }
        let longest = a.chars().count().max(b.chars().count());
        // Edits the similarity allows at this length.
        let allowed = ((1.0 - NEAR_SIMILARITY) * longest as f64 + 1e-9).floor() as usize;
        if allowed == 0 || a.len().abs_diff(b.len()) > allowed * 4 {
            return false;
        }
        strsim::normalized_damerau_levenshtein(a, b) >= NEAR_SIMILARITY
    }
}

/// Disjoint sets of positions; only positions ever joined take memory
/// beyond one number each.
struct UnionFind {
    parent: Vec<u32>,
    joined: Vec<bool>,
}

impl UnionFind {
    fn new(len: usize) -> UnionFind {
        UnionFind {
            parent: (0..u32::try_from(len).unwrap_or(NONE)).collect(),
            joined: vec![false; len],
        }
    }

    fn root(&mut self, mut position: u32) -> u32 {
        while self.parent[position as usize] != position {
            let grand = self.parent[self.parent[position as usize] as usize];
            self.parent[position as usize] = grand;
            position = grand;
        }
        position
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        self.joined[a as usize] = true;
        self.joined[b as usize] = true;
        if a != b {
            self.parent[a.max(b) as usize] = a.min(b);
        }
    }

    fn has_any(&self, positions: &[u32]) -> bool {
        positions.iter().any(|p| self.joined[*p as usize])
    }

    fn groups(&mut self) -> Vec<Vec<u32>> {
        let mut by_root: HashMap<u32, Vec<u32>> = HashMap::new();
        for position in 0..u32::try_from(self.parent.len()).unwrap_or(NONE) {
            if self.joined[position as usize] {
                let root = self.root(position);
                by_root.entry(root).or_default().push(position);
            }
        }
        let mut groups: Vec<Vec<u32>> = by_root.into_values().filter(|g| g.len() > 1).collect();
        groups.sort_unstable();
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(names: &[(&str, &str)], near: bool) -> Vec<FoundGroup> {
        let mut finder = GroupFinder::new(near);
        for (name, city) in names {
            let key = crate::duplicates::match_key(name);
            let city = crate::duplicates::match_key(city);
            finder.add(
                (!key.is_empty()).then_some(&[key.as_str()][..]),
                Some(&city),
                Some(name),
            );
        }
        finder.finish()
    }

    #[test]
    fn records_of_one_key_are_a_group_unless_their_cities_differ() {
        let groups = find(
            &[
                ("Sysco Foods", ""),
                ("Other", ""),
                ("SYSCO foods", "Chicago"),
                ("sysco-foods", ""),
                ("Cafe Gamma", "Chicago"),
                ("Cafe Gamma", "Denver"),
                ("Cafe Gamma", "Denver"),
            ],
            false,
        );
        assert_eq!(
            groups,
            vec![
                FoundGroup {
                    near: false,
                    members: vec![0, 2, 3]
                },
                FoundGroup {
                    near: false,
                    members: vec![5, 6]
                },
            ]
        );
    }

    #[test]
    fn near_groups_join_suffixes_and_typos_but_not_strangers() {
        let groups = find(
            &[
                ("Joe's Rusty Spoon", ""),
                ("Joes Rusty Spoon Inc.", ""),
                ("Hoboken Provisions Market", ""),
                ("Hoboken Provisons Market", ""),
                ("Hoboken Provisions Market", ""),
                ("Blue Hill", ""),
                ("Red Hill", ""),
            ],
            true,
        );
        assert_eq!(
            groups,
            vec![
                FoundGroup {
                    near: false,
                    members: vec![2, 4]
                },
                FoundGroup {
                    near: true,
                    members: vec![0, 1]
                },
                FoundGroup {
                    near: true,
                    members: vec![2, 3, 4]
                },
            ]
        );
    }
}
