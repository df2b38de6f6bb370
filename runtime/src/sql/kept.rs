//! Statements rendered once per table plan (one IR version) and shape. The hottest statements'
//! text depends on a few facts about the request — which scope columns apply, which columns a
//! create sets — and not on its values, so the text is kept per such shape and a request makes
//! only the values. Whoever keeps a shape checks first that the values it makes are exactly
//! the ones sea-query bound, in its order: a shape that check does not pass is rendered per
//! request instead of bound wrongly.

use std::sync::RwLock;

/// Shapes kept per table and statement. Past this, statements are rendered per request.
const SHAPES_KEPT: usize = 16;

#[derive(Debug)]
pub struct Kept<K> {
    shapes: RwLock<Vec<(K, String)>>,
}

impl<K> Default for Kept<K> {
    fn default() -> Self {
        Kept {
            shapes: RwLock::new(Vec::new()),
        }
    }
}

impl<K> Kept<K> {
    /// The text kept for the shape `fits` accepts.
    pub fn find(&self, fits: impl Fn(&K) -> bool) -> Option<String> {
        let shapes = self.shapes.read().unwrap_or_else(|e| e.into_inner());
        shapes
            .iter()
            .find(|(k, _)| fits(k))
            .map(|(_, sql)| sql.clone())
    }

    /// Keeps `sql` for `shape` unless one that `fits` is kept already or the table has its fill.
    pub fn keep(&self, shape: K, fits: impl Fn(&K) -> bool, sql: &str) {
        let mut shapes = self.shapes.write().unwrap_or_else(|e| e.into_inner());
        if shapes.len() < SHAPES_KEPT && !shapes.iter().any(|(k, _)| fits(k)) {
            shapes.push((shape, sql.to_owned()));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shapes.read().map_or(0, |s| s.len())
    }
}
