//! `--set` keys and the evolve command's argument checks.

use super::*;

#[test]
fn settings_by_key() {
    let (mut m, mut s) = (MutationConfig::default(), SelectionConfig::default());
    apply_setting("p_mixing=0.8", &mut m, &mut s).unwrap();
    apply_setting("top_fraction = 0.25", &mut m, &mut s).unwrap();
    assert_eq!((m.p_mixing, s.top_fraction), (0.8, 0.25));
    assert!(apply_setting("p_nothing=1", &mut m, &mut s).unwrap_err().contains("unknown key `p_nothing`"));
    assert!(apply_setting("p_mixing", &mut m, &mut s).unwrap_err().contains("KEY=VALUE"));
    assert!(apply_setting("p_mixing=high", &mut m, &mut s).unwrap_err().contains("not a number"));
    assert!(apply_setting("attempts=1.5", &mut m, &mut s).is_err());
    apply_setting("top_fraction=0", &mut m, &mut s).unwrap();
    assert_eq!(s.validate().unwrap_err().to_string(), "`top_fraction` must be above 0 and at most 1, found 0");
    apply_setting("p_random_grow=1", &mut m, &mut s).unwrap();
    assert_eq!(m.validate().unwrap_err().to_string(), "`p_random_grow` must be from 0 to 0.99, found 1");
}
