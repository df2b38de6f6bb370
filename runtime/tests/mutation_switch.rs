//! The mutation switch itself (only with `--features mutations`): `set` overrides
//! `WARD_MUTATION`, and `set(None)` switches every planted bug off. Its own test binary, so that
//! switching here cannot plant a bug under another test.
#![cfg(feature = "mutations")]

use ward_runtime::mutation::{self, Mutation};

#[test]
fn set_overrides_the_environment_and_none_switches_off() {
    for m in Mutation::ALL {
        mutation::set(Some(m));
        assert_eq!(mutation::current(), Some(m));
        assert!(
            Mutation::ALL
                .iter()
                .all(|x| mutation::active(*x) == (*x == m))
        );
    }
    mutation::set(None);
    assert_eq!(mutation::current(), None);
    assert!(!Mutation::ALL.iter().any(|x| mutation::active(*x)));
}
