//! Records written straight from a statement's cells to the answer's bytes — masked per cell,
//! projected, no map built per record. The hot path of reads and lists whose records carry
//! nothing from other rows (no labels, no expansions); what it writes is exactly what
//! [`embed::render`](super::embed::render) makes of the same rows (tested below).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;

use crate::error::ApiError;
use crate::gate::Caller;
use crate::security::masking::{Cell, CellMasks};
use crate::snapshot::TablePlan;

/// Rows of `plan` read as cells in column order (`row::cells`), as the caller sees them.
pub struct Records<'a> {
    plan: &'a TablePlan,
    masks: CellMasks<'a>,
    /// Positions of the columns `fields=` keeps (all of them without it), in column order.
    kept: Vec<usize>,
    rows: &'a [Vec<Json>],
}

impl<'a> Records<'a> {
    pub fn new(
        plan: &'a TablePlan,
        caller: &'a Caller,
        fields: Option<&[String]>,
        rows: &'a [Vec<Json>],
    ) -> Self {
        let kept = plan
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| fields.is_none_or(|f| f.contains(&c.name)))
            .map(|(i, _)| i)
            .collect();
        Records {
            plan,
            masks: CellMasks::new(plan, caller),
            kept,
            rows,
        }
    }

    /// The first record alone (a read by id).
    pub fn first(&self) -> Option<Record<'_>> {
        self.rows.first().map(|row| Record { of: self, row })
    }
}

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&Record { of: self, row })?;
        }
        seq.end()
    }
}

/// One row of [`Records`], written as a JSON object.
pub struct Record<'a> {
    of: &'a Records<'a>,
    row: &'a [Json],
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for &at in &self.of.kept {
            let Some(column) = self.of.plan.columns().get(at) else {
                continue;
            };
            match self.of.masks.cell(self.row, at) {
                Cell::Raw(v) => map.serialize_entry(&column.name, v)?,
                Cell::Masked(v) => map.serialize_entry(&column.name, &v)?,
                Cell::Hidden => {}
            }
        }
        map.end()
    }
}

/// A response body: `{"data": …}`, with `"pagination"` for pages.
#[derive(serde::Serialize)]
pub struct Answer<D, P> {
    pub data: D,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<P>,
}

impl<D> Answer<D, ()> {
    /// `{"data": …}` alone: one record.
    pub fn data(data: D) -> Self {
        Answer {
            data,
            pagination: None,
        }
    }
}

/// The bytes of a response body.
pub fn to_body(v: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests;
