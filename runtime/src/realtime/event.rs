//! What one change looks like to one subscriber (SPEC §12): the subscriber sees a row when they
//! could list it — inside the firewall's scopes, passing the `list` rule's `when`, not
//! soft-deleted, and matching the stream's filters — judged on each image of the change on its
//! own. A change the subscriber sees neither side of is nothing to them; a row that comes into
//! view is an `enter` (the whole masked row), one that goes out of view a `leave` (its id only),
//! so no event tells them what a row became after it left.

use serde_json::{Map, Value as Json, json};
use ward_ir::{Condition, Literal, Operation, Value, system};

use crate::engine::journal::{self, Change, Op};
use crate::gate::{Caller, Gate};
use crate::mutation::{self, Mutation};
use crate::security::{self, access, masking};
use crate::snapshot::TablePlan;
use crate::sql::filter::Filter;
use crate::store::row::Record;

/// The kinds of event a subscriber receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Insert,
    Update,
    Delete,
    Enter,
    Leave,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Insert => "insert",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::Enter => "enter",
            Kind::Leave => "leave",
        }
    }
}

/// One event for one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: Kind,
    /// `{"table", "id"}`, and `"record"` — the row as a list would show it to the subscriber —
    /// for `insert`, `update` and `enter`.
    pub data: Json,
}

/// Who is watching one table, and through which filters.
pub struct Watcher<'a> {
    pub plan: &'a TablePlan,
    pub caller: &'a Caller,
    pub filters: &'a [Filter],
    /// The `list` rule's gate for the caller ([`list_gate`]); `None` when they may not list
    /// the table (now).
    pub gate: Option<&'a Gate>,
}

/// What the `list` rule leaves for `caller` on `plan`'s table: the same for every change until
/// the served IR changes, so a stream makes it once per IR rather than once per event.
pub fn list_gate(plan: &TablePlan, caller: &Caller) -> Option<Gate> {
    security::gate(plan, Operation::List, caller).ok()
}

impl Watcher<'_> {
    /// The event `change` is to this watcher at `now`, if any.
    pub fn judge(&self, change: &Change, now: &str) -> Option<Event> {
        let gate = self.gate?;
        let sees = |image: &Option<Record>| {
            image
                .as_ref()
                .filter(|r| self.lists(gate, r, now))
                .map(|r| self.shown(r))
        };
        let (before, after) =
            if mutation::active(Mutation::RealtimeDeleteToAll) && change.op == Op::Delete {
                (change.before.as_ref().map(|r| self.shown(r)), None)
            } else {
                (sees(&change.before), sees(&change.after))
            };
        let kind = match (&before, &after) {
            (None, None) => return None,
            (None, Some(_)) if change.op == Op::Insert => Kind::Insert,
            (None, Some(_)) => Kind::Enter,
            (Some(_), None) if matches!(change.op, Op::Delete | Op::SoftDelete) => Kind::Delete,
            (Some(_), None) => Kind::Leave,
            // A change only of columns masked or hidden from them, or of the stamps, is none of
            // theirs: telling them would tell them a masked value changed.
            (Some(b), Some(a)) if !journal::differ(b, a, &[]) => return None,
            (Some(_), Some(_)) => Kind::Update,
        };
        let mut data = Map::new();
        data.insert("table".into(), json!(self.plan.name()));
        data.insert("id".into(), json!(change.id_value()));
        match kind {
            Kind::Delete | Kind::Leave if !mutation::active(Mutation::RealtimeLeaveCarriesRow) => {}
            Kind::Delete | Kind::Leave => {
                data.insert("record".into(), json!(before));
            }
            _ => {
                data.insert("record".into(), json!(after));
            }
        }
        Some(Event {
            kind,
            data: Json::Object(data),
        })
    }

    /// Whether a list by this watcher would include a row stored as `image`.
    fn lists(&self, gate: &Gate, image: &Record, now: &str) -> bool {
        let deleted = image.get(system::DELETED_AT).is_some_and(|v| !v.is_null());
        !deleted
            && security::could_read(gate, self.caller, image, now)
            && self
                .filters
                .iter()
                .all(|f| access::holds(&condition(f), image, self.caller, now))
    }

    /// A stored image as a list shows it today: the table's current columns, masked.
    fn shown(&self, stored: &Record) -> Record {
        let masked = !mutation::active(Mutation::RealtimeMaskSkipped);
        masking::shown_today(self.plan, self.caller, stored, masked)
    }
}

/// A list filter as a condition on a loaded row: the same three-valued comparison a `when`
/// gets, which agrees with the filter's SQL.
fn condition(f: &Filter) -> Condition {
    Condition::Compare {
        field: f.column.clone(),
        op: f.op,
        values: f
            .values
            .iter()
            .map(|v| Value::Literal(literal(v)))
            .collect(),
    }
}

fn literal(v: &Json) -> Literal {
    match v {
        Json::Null => Literal::Null,
        Json::Bool(b) => Literal::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => Literal::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Literal::Text(s.clone()),
        other => Literal::Text(other.to_string()),
    }
}
