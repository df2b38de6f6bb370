//! Planted security bugs ("mutations") that prove the test suites bite (issue 4, item 7).
//!
//! Each [`Mutation`] is one deliberate security bug, planted at the real decision point of the
//! pipeline by a hook of the form `if mutation::active(Mutation::X) { …wrong behaviour… }`.
//! A suite that is worth its name must fail when any one of them is switched on.
//!
//! **Safe by construction.** Without the non-default cargo feature `mutations`, [`active`] is a
//! `const fn` that returns `false`: every hook is dead code that the optimiser removes, and
//! nothing (no environment variable, no API) can switch a bug on. The names, descriptions, the
//! switch ([`set`]) and the `WARD_MUTATION` variable exist only with the feature, so a build
//! without it does not even contain the strings (see `docs/conformance.md`, "Proof that it
//! bites").
//!
//! With the feature, the active mutation is the one given to [`set`] or, if `set` was never
//! called, the one named by `WARD_MUTATION=<name>` (read once per process).

/// One deliberate security bug. The variants exist in every build so that the hooks compile;
/// only a build with the `mutations` feature can switch one on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    AuthAcceptExpired,
    AuthBadTokenAnonymous,
    AccessReadSkipRole,
    AccessCreateSkipRole,
    AccessUpdateSkipCheck,
    FirewallReadNoScope,
    FirewallWriteNoScope,
    FirewallNotFoundOracle,
    GuardsCreateSystemField,
    GuardsUpdateScopeColumn,
    ErrorLeaksStoredRow,
    MaskingFilterMaskedColumn,
    BatchResponseUnmasked,
    BatchAtomicPartialCommit,
    DeleteSkipWhen,
    DeleteSoftDeletedVisible,
    UpsertOverwriteInvisible,
    AuditCreatedByNull,
    TriggerBeforeSkipped,
    ActionExistsIgnoresFirewall,
    PreconditionBeforeFirewall,
    UniqueAcrossTenants,
    BatchIfMatchIgnored,
    HistoryImageUnjudged,
    HistoryMaskSkipped,
    HistoryExcludedKept,
    RealtimeDeleteToAll,
    RealtimeLeaveCarriesRow,
    RealtimeMaskSkipped,
    FileDownloadUnmasked,
    FileDownloadSkipsFirewall,
    FileReleaseSkipped,
}

/// Whether the planted bug `m` is switched on. Without the `mutations` feature: never.
#[cfg(not(feature = "mutations"))]
#[inline(always)]
pub const fn active(_m: Mutation) -> bool {
    false
}

#[cfg(feature = "mutations")]
pub use switch::{active, current, set};

#[cfg(feature = "mutations")]
impl Mutation {
    /// Every mutation, in declaration order (`ALL[m as usize] == m`).
    pub const ALL: [Mutation; 32] = [
        Mutation::AuthAcceptExpired,
        Mutation::AuthBadTokenAnonymous,
        Mutation::AccessReadSkipRole,
        Mutation::AccessCreateSkipRole,
        Mutation::AccessUpdateSkipCheck,
        Mutation::FirewallReadNoScope,
        Mutation::FirewallWriteNoScope,
        Mutation::FirewallNotFoundOracle,
        Mutation::GuardsCreateSystemField,
        Mutation::GuardsUpdateScopeColumn,
        Mutation::ErrorLeaksStoredRow,
        Mutation::MaskingFilterMaskedColumn,
        Mutation::BatchResponseUnmasked,
        Mutation::BatchAtomicPartialCommit,
        Mutation::DeleteSkipWhen,
        Mutation::DeleteSoftDeletedVisible,
        Mutation::UpsertOverwriteInvisible,
        Mutation::AuditCreatedByNull,
        Mutation::TriggerBeforeSkipped,
        Mutation::ActionExistsIgnoresFirewall,
        Mutation::PreconditionBeforeFirewall,
        Mutation::UniqueAcrossTenants,
        Mutation::BatchIfMatchIgnored,
        Mutation::HistoryImageUnjudged,
        Mutation::HistoryMaskSkipped,
        Mutation::HistoryExcludedKept,
        Mutation::RealtimeDeleteToAll,
        Mutation::RealtimeLeaveCarriesRow,
        Mutation::RealtimeMaskSkipped,
        Mutation::FileDownloadUnmasked,
        Mutation::FileDownloadSkipsFirewall,
        Mutation::FileReleaseSkipped,
    ];

    /// The stable kebab-case name (`WARD_MUTATION=<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Mutation::AuthAcceptExpired => "auth-accept-expired",
            Mutation::AuthBadTokenAnonymous => "auth-bad-token-anonymous",
            Mutation::AccessReadSkipRole => "access-read-skip-role",
            Mutation::AccessCreateSkipRole => "access-create-skip-role",
            Mutation::AccessUpdateSkipCheck => "access-update-skip-check",
            Mutation::FirewallReadNoScope => "firewall-read-no-scope",
            Mutation::FirewallWriteNoScope => "firewall-write-no-scope",
            Mutation::FirewallNotFoundOracle => "firewall-not-found-oracle",
            Mutation::GuardsCreateSystemField => "guards-create-system-field",
            Mutation::GuardsUpdateScopeColumn => "guards-update-scope-column",
            Mutation::ErrorLeaksStoredRow => "masking-error-leaks-row",
            Mutation::MaskingFilterMaskedColumn => "masking-filter-masked-column",
            Mutation::BatchResponseUnmasked => "batch-response-unmasked",
            Mutation::BatchAtomicPartialCommit => "batch-atomic-partial-commit",
            Mutation::DeleteSkipWhen => "delete-skip-when",
            Mutation::DeleteSoftDeletedVisible => "delete-soft-deleted-visible",
            Mutation::UpsertOverwriteInvisible => "upsert-overwrite-invisible",
            Mutation::AuditCreatedByNull => "audit-created-by-null",
            Mutation::TriggerBeforeSkipped => "triggers-before-skipped",
            Mutation::ActionExistsIgnoresFirewall => "actions-exists-ignores-firewall",
            Mutation::PreconditionBeforeFirewall => "firewall-precondition-first",
            Mutation::UniqueAcrossTenants => "firewall-unique-across-tenants",
            Mutation::BatchIfMatchIgnored => "batch-if-match-ignored",
            Mutation::HistoryImageUnjudged => "history-image-unjudged",
            Mutation::HistoryMaskSkipped => "history-mask-skipped",
            Mutation::HistoryExcludedKept => "history-excluded-kept",
            Mutation::RealtimeDeleteToAll => "realtime-delete-to-all",
            Mutation::RealtimeLeaveCarriesRow => "realtime-leave-carries-row",
            Mutation::RealtimeMaskSkipped => "realtime-mask-skipped",
            Mutation::FileDownloadUnmasked => "files-download-unmasked",
            Mutation::FileDownloadSkipsFirewall => "files-download-skips-firewall",
            Mutation::FileReleaseSkipped => "files-release-skipped",
        }
    }

    /// The pipeline layer the bug breaks.
    pub const fn layer(self) -> &'static str {
        match self {
            Mutation::AuthAcceptExpired | Mutation::AuthBadTokenAnonymous => "auth",
            Mutation::AccessReadSkipRole
            | Mutation::AccessCreateSkipRole
            | Mutation::AccessUpdateSkipCheck => "access",
            Mutation::FirewallReadNoScope
            | Mutation::FirewallWriteNoScope
            | Mutation::FirewallNotFoundOracle
            | Mutation::PreconditionBeforeFirewall
            | Mutation::UniqueAcrossTenants => "firewall",
            Mutation::GuardsCreateSystemField | Mutation::GuardsUpdateScopeColumn => "guards",
            Mutation::ErrorLeaksStoredRow => "masking",
            Mutation::MaskingFilterMaskedColumn => "masking",
            Mutation::BatchResponseUnmasked
            | Mutation::BatchAtomicPartialCommit
            | Mutation::BatchIfMatchIgnored => "batch",
            Mutation::DeleteSkipWhen | Mutation::DeleteSoftDeletedVisible => "delete",
            Mutation::UpsertOverwriteInvisible => "upsert",
            Mutation::AuditCreatedByNull => "audit",
            Mutation::TriggerBeforeSkipped => "triggers",
            Mutation::ActionExistsIgnoresFirewall => "actions",
            Mutation::HistoryImageUnjudged
            | Mutation::HistoryMaskSkipped
            | Mutation::HistoryExcludedKept => "history",
            Mutation::RealtimeDeleteToAll
            | Mutation::RealtimeLeaveCarriesRow
            | Mutation::RealtimeMaskSkipped => "realtime",
            Mutation::FileDownloadUnmasked
            | Mutation::FileDownloadSkipsFirewall
            | Mutation::FileReleaseSkipped => "files",
        }
    }

    /// What goes wrong, in one line.
    pub const fn description(self) -> &'static str {
        match self {
            Mutation::AuthAcceptExpired => "a token whose `exp` has passed is accepted",
            Mutation::AuthBadTokenAnonymous => {
                "an invalid token is downgraded to an anonymous caller instead of 401"
            }
            Mutation::AccessReadSkipRole => {
                "GET by id (and labels/expansions) skips the role check of the `read` rule"
            }
            Mutation::AccessCreateSkipRole => "create skips the role check of the `create` rule",
            Mutation::AccessUpdateSkipCheck => {
                "update skips the `check` condition on the resulting row"
            }
            Mutation::FirewallReadNoScope => "list and read drop the firewall scope predicates",
            Mutation::FirewallWriteNoScope => {
                "update and delete drop the firewall scopes (load and WHERE)"
            }
            Mutation::FirewallNotFoundOracle => {
                "GET of an existing but invisible id answers 403 instead of the fixed NOT_FOUND"
            }
            Mutation::GuardsCreateSystemField => {
                "guards let `createdBy` through on create and the client's value is stored"
            }
            Mutation::GuardsUpdateScopeColumn => {
                "guards let a scope column through on update and the row changes tenant"
            }
            Mutation::ErrorLeaksStoredRow => {
                "ACCESS_CONDITION_FAILED carries the stored row, unmasked, in its details"
            }
            Mutation::MaskingFilterMaskedColumn => {
                "filters on a column masked for the caller are accepted (value oracle)"
            }
            Mutation::BatchResponseUnmasked => "batch create/update/upsert answers unmasked rows",
            Mutation::BatchAtomicPartialCommit => {
                "an atomic batch skips its failing record and commits the rest"
            }
            Mutation::DeleteSkipWhen => "delete skips the rule's `when` condition",
            Mutation::DeleteSoftDeletedVisible => {
                "the firewall forgets `deletedAt IS NULL`: soft-deleted rows are visible"
            }
            Mutation::UpsertOverwriteInvisible => {
                "PUT on an invisible id (other tenant, soft-deleted) overwrites that row"
            }
            Mutation::AuditCreatedByNull => "create stamps `createdBy` null instead of the caller",
            Mutation::TriggerBeforeSkipped => {
                "`before` triggers never run: their `require` steps refuse nothing"
            }
            Mutation::ActionExistsIgnoresFirewall => {
                "an action's `exists` finds rows of other tenants (and soft-deleted ones)"
            }
            Mutation::PreconditionBeforeFirewall => {
                "an `If-Match` on another tenant's row answers 412 instead of the fixed NOT_FOUND"
            }
            Mutation::UniqueAcrossTenants => {
                "unique indexes leave out the scope: another tenant's value answers 409"
            }
            Mutation::BatchIfMatchIgnored => {
                "batches ignore `options.ifMatch`: a stale version is overwritten (a lost update)"
            }
            Mutation::HistoryImageUnjudged => {
                "a row's history shows every image, also those the caller could not have read"
            }
            Mutation::HistoryMaskSkipped => "a row's history shows images unmasked",
            Mutation::HistoryExcludedKept => {
                "the change log stores the columns `history { exclude … }` names"
            }
            Mutation::RealtimeDeleteToAll => {
                "a hard delete reaches every subscriber of the table, whoever could list the row"
            }
            Mutation::RealtimeLeaveCarriesRow => {
                "`leave` and `delete` events carry the row's last image, not only its id"
            }
            Mutation::RealtimeMaskSkipped => "realtime events carry rows unmasked",
            Mutation::FileDownloadUnmasked => {
                "a file downloads for a caller its column is masked or hidden for"
            }
            Mutation::FileDownloadSkipsFirewall => {
                "a file downloads by id whatever the firewall, soft delete and `read` conditions say"
            }
            Mutation::FileReleaseSkipped => {
                "a file replaced or removed by an update stays in the store forever"
            }
        }
    }

    /// The mutation with this kebab-case name.
    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.into_iter().find(|m| m.name() == name)
    }
}

#[cfg(feature = "mutations")]
mod switch {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Mutation;

    /// The environment variable naming the mutation when [`set`] was never called.
    pub const ENV: &str = "WARD_MUTATION";

    /// `SWITCH` holds an index into `Mutation::ALL`, or one of these.
    const UNSET: usize = usize::MAX;
    const NONE: usize = usize::MAX - 1;

    static SWITCH: AtomicUsize = AtomicUsize::new(UNSET);
    static FROM_ENV: OnceLock<Option<Mutation>> = OnceLock::new();

    /// Switches the process-wide mutation (`None`: no bug), overriding `WARD_MUTATION`.
    pub fn set(m: Option<Mutation>) {
        SWITCH.store(m.map_or(NONE, |m| m as usize), Ordering::SeqCst);
    }

    /// The mutation switched on for this process, if any.
    pub fn current() -> Option<Mutation> {
        match SWITCH.load(Ordering::SeqCst) {
            UNSET => *FROM_ENV.get_or_init(from_env),
            NONE => None,
            i => Mutation::ALL.get(i).copied(),
        }
    }

    /// Whether the planted bug `m` is switched on.
    pub fn active(m: Mutation) -> bool {
        current() == Some(m)
    }

    fn from_env() -> Option<Mutation> {
        let name = std::env::var(ENV).ok()?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let m = Mutation::from_name(name);
        if m.is_none() {
            // A typo must not look like "no test caught it": say so loudly.
            eprintln!("ward: unknown {ENV}={name:?}; no mutation is active");
        }
        m
    }
}

#[cfg(all(test, feature = "mutations"))]
mod tests {
    use super::Mutation;

    #[test]
    fn all_is_in_declaration_order_with_unique_kebab_names() {
        let mut names = Vec::new();
        for (i, m) in Mutation::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i, "{m:?} out of order in Mutation::ALL");
            let n = m.name();
            assert!(
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !n.starts_with('-')
                    && !n.ends_with('-')
                    && !n.contains("--"),
                "`{n}` is not kebab-case"
            );
            assert!(
                n.starts_with(m.layer()),
                "`{n}` should start with its layer"
            );
            assert!(!m.description().is_empty());
            assert_eq!(Mutation::from_name(n), Some(m));
            assert!(!names.contains(&n), "`{n}` twice");
            names.push(n);
        }
        assert_eq!(Mutation::from_name("no-such-mutation"), None);
    }

    /// The list `conformance-tests/mutations.sh` reads: one `MUTATION<TAB>name<TAB>layer<TAB>
    /// description` line per mutation (run with `--nocapture`).
    #[test]
    fn list() {
        for m in Mutation::ALL {
            println!("MUTATION\t{}\t{}\t{}", m.name(), m.layer(), m.description());
        }
    }
}
