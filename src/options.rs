//! Validated options shared by every kernel: flavor, switches, row groups and the column map.

use crate::status::{fail, Result, *};

/// Which tool's arithmetic to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Scanpy 1.12.4 `pp.scale`.
    Scanpy,
    /// Seurat 4.3 `ScaleData` (`FastSparseRowScale`).
    Seurat,
}

/// Numeric switches, already checked.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub flavor: Flavor,
    /// Scanpy `zero_center`, Seurat `do.center`.
    pub center: bool,
    /// Seurat `do.scale` (Scanpy always scales).
    pub scale: bool,
    /// Scanpy `max_value` / Seurat `scale.max`; `None` = no clipping.
    pub max_value: Option<f64>,
    /// Scanpy's numba partition count T for CSR statistics.
    pub n_partitions: usize,
}

impl Params {
    pub fn new(flavor: Flavor, center: bool, scale: bool, clip: bool, max_value: f64, n_partitions: usize) -> Result<Self> {
        if clip && max_value.is_nan() {
            fail!(SC_STATUS_INVALID_OPTION, "max_value is NaN; give a number (or disable clipping)");
        }
        if n_partitions == 0 {
            fail!(SC_STATUS_INVALID_OPTION, "n_partitions is 0; Scanpy's partition count (numba threads) is at least 1");
        }
        if flavor == Flavor::Scanpy && !scale {
            fail!(SC_STATUS_INVALID_OPTION, "scale = false is a Seurat option (do.scale); Scanpy always scales");
        }
        Ok(Params { flavor, center, scale, max_value: clip.then_some(max_value), n_partitions })
    }
}

/// Per-row group labels (Seurat `split.by`, Scanpy `mask_obs`). Without labels every row is in
/// group 0. Label -1 means "in no group": statistics skip the row and the output leaves it as the
/// flavor does (Seurat writes 0, Scanpy keeps the input value).
pub struct Groups<'a> {
    labels: Option<&'a [i32]>,
    pub n_groups: usize,
    /// Rows in each group.
    pub sizes: Vec<usize>,
}

impl<'a> Groups<'a> {
    pub fn new(labels: Option<&'a [i32]>, n_groups: usize, n_rows: usize) -> Result<Self> {
        let Some(labels) = labels else {
            return Ok(Groups { labels: None, n_groups: 1, sizes: vec![n_rows] });
        };
        if labels.len() != n_rows {
            fail!(SC_STATUS_GROUPS_LENGTH, "groups_len is {}; expected one label per row ({n_rows})", labels.len());
        }
        if n_groups == 0 || n_groups > i32::MAX as usize {
            fail!(SC_STATUS_INVALID_OPTION, "n_groups is {n_groups}; expected 1 <= n_groups <= 2^31-1 when groups are given");
        }
        let mut sizes = vec![0usize; n_groups];
        for (r, &g) in labels.iter().enumerate() {
            if g < -1 || g as i64 >= n_groups as i64 {
                fail!(SC_STATUS_INVALID_GROUP, "groups[{r}] = {g}; expected -1 (no group) or 0 <= label < n_groups = {n_groups}");
            }
            if g >= 0 {
                sizes[g as usize] += 1;
            }
        }
        Ok(Groups { labels: Some(labels), n_groups, sizes })
    }

    #[inline(always)]
    pub fn of(&self, row: usize) -> Option<usize> {
        match self.labels {
            None => Some(0),
            Some(l) => {
                let g = l[row];
                (g >= 0).then_some(g as usize)
            }
        }
    }

    /// The labels as given (`None`: every row in group 0), checked by [`Groups::new`].
    pub fn labels(&self) -> Option<&'a [i32]> {
        self.labels
    }

    /// Whether these groups were made for a matrix of `n_rows` rows.
    pub fn fits(&self, n_rows: usize) -> bool {
        match self.labels {
            None => self.sizes == [n_rows],
            Some(l) => l.len() == n_rows,
        }
    }
}

/// Gene -> output column (Seurat's `features` without copying the matrix). Must map the kept
/// genes one-to-one onto `0..n_out`.
pub struct ColumnMap {
    /// `None` = identity.
    map: Option<Vec<u32>>,
    pub n_out: usize,
}

pub(crate) const SKIP: u32 = u32::MAX;

impl ColumnMap {
    pub fn new(map: Option<&[i64]>, n_cols: usize, n_out: usize) -> Result<Self> {
        if n_cols >= SKIP as usize || n_out >= SKIP as usize {
            fail!(SC_STATUS_SIZE_OVERFLOW, "{n_cols} genes / {n_out} output columns exceed 2^32-1");
        }
        let Some(map) = map else {
            if n_out != n_cols {
                fail!(
                    SC_STATUS_INVALID_COLUMN_MAP,
                    "output has {n_out} columns but the matrix has {n_cols} genes and no column map was given"
                );
            }
            return Ok(ColumnMap { map: None, n_out });
        };
        if map.len() != n_cols {
            fail!(SC_STATUS_COLUMN_MAP_LENGTH, "column_map_len is {}; expected one entry per gene ({n_cols})", map.len());
        }
        let mut owner = vec![SKIP; n_out];
        let mut out = Vec::with_capacity(n_cols);
        for (c, &oc) in map.iter().enumerate() {
            if oc == -1 {
                out.push(SKIP);
                continue;
            }
            if oc < 0 || oc >= n_out as i64 {
                fail!(SC_STATUS_INVALID_COLUMN_MAP, "column_map[{c}] = {oc}; expected -1 (skip) or 0 <= column < {n_out}");
            }
            if owner[oc as usize] != SKIP {
                fail!(
                    SC_STATUS_INVALID_COLUMN_MAP,
                    "column_map[{c}] and column_map[{}] both map to output column {oc}",
                    owner[oc as usize]
                );
            }
            owner[oc as usize] = c as u32;
            out.push(oc as u32);
        }
        if let Some(oc) = owner.iter().position(|&o| o == SKIP) {
            fail!(SC_STATUS_INVALID_COLUMN_MAP, "no gene maps to output column {oc}; every output column needs exactly one gene");
        }
        // A map that changes nothing (R's binding always passes one) takes the identity's faster paths.
        let identity = n_out == n_cols && out.iter().enumerate().all(|(c, &oc)| oc as usize == c);
        Ok(ColumnMap { map: (!identity).then_some(out), n_out })
    }

    /// Output column of gene `c`, or [`SKIP`].
    #[inline(always)]
    pub fn get(&self, c: usize) -> u32 {
        match &self.map {
            None => c as u32,
            Some(m) => m[c],
        }
    }

    pub fn is_identity(&self) -> bool {
        self.map.is_none()
    }

    /// Whether this map was made for a matrix of `n_cols` genes.
    pub fn fits(&self, n_cols: usize) -> bool {
        match &self.map {
            None => self.n_out == n_cols,
            Some(m) => m.len() == n_cols,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ColumnMap;

    #[test]
    fn a_map_that_changes_nothing_is_the_identity() {
        let is_identity = |map: &[i64], n_out| ColumnMap::new(Some(map), map.len(), n_out).unwrap().is_identity();
        assert!(is_identity(&[0, 1, 2], 3));
        assert!(!is_identity(&[1, 0, 2], 3));
        assert!(!is_identity(&[0, -1, 1], 2));
        assert!(ColumnMap::new(None, 3, 3).unwrap().is_identity());
    }
}
