//! Candidates equal up to sound rewriting share one training (issue 18). A child whose
//! canonical form (`nasc_core::rewrite`) equals that of an earlier trained candidate, though its
//! fingerprint differs, is stored as reused with the evidence: both candidates' proofs, which
//! [`check`] replays independently on both sources.

use super::Error;
use super::source;
use super::store::{Record, Status};
use nasc_core::rewrite::{Canonical, Step, canonical, replay};
use serde_json::{Value, json};

/// The canonical form of a candidate's model; `None` when it does not check.
pub fn form(text: &str) -> Option<Canonical> {
    let c = source::compile(text).ok()?;
    canonical(c.model(None).ok()?.graph)
}

/// What a candidate reused from `other` because their forms are equal stores as proof.
pub fn evidence(form: &Canonical, other_id: i64, other: &Canonical) -> Value {
    json!({ "to": other_id, "canonical": form.fingerprint, "proof": form.proof, "proof_of_other": other.proof })
}

/// Replay a stored equivalence: each proof must be valid on its candidate's source, and both
/// must reach the stored form.
pub fn check(text: &str, other_text: &str, evidence: &Value) -> Result<(), Error> {
    let replayed = |text: &str, key: &str| -> Result<Canonical, Error> {
        let proof: Vec<Step> = serde_json::from_value(evidence[key].clone()).map_err(|e| Error::Evidence(format!("`{key}` is not a proof: {e}")))?;
        let c = source::compile(text).map_err(|f| Error::Program(f.first_message()))?;
        replay(c.model(None).map_err(|f| Error::Program(f.first_message()))?.graph, &proof).map_err(Error::Evidence)
    };
    let (a, b) = (replayed(text, "proof")?, replayed(other_text, "proof_of_other")?);
    let claimed = evidence["canonical"].as_str().unwrap_or_default();
    if a.fingerprint != b.fingerprint || a.fingerprint != claimed {
        return Err(Error::Evidence(format!("the proofs reach {} and {}, not the stored form {claimed}", a.fingerprint, b.fingerprint)));
    }
    Ok(())
}

/// Replay every stored equivalence of a run; the number confirmed, or the first that fails.
pub fn check_all(records: &[Record]) -> Result<usize, Error> {
    let mut confirmed = 0;
    for r in records.iter().filter(|r| r.status == Status::Reused) {
        let props: Value = serde_json::from_str(&r.properties).unwrap_or(Value::Null);
        let Some(ev) = props.get("equivalent") else { continue };
        let to =
            ev["to"].as_i64().and_then(|t| records.get(t as usize)).ok_or_else(|| Error::Evidence(format!("#{}: its equivalent is not in the store", r.id)))?;
        check(&r.source, &to.source, ev).map_err(|e| Error::Evidence(format!("#{} = #{}: {e}", r.id, to.id)))?;
        confirmed += 1;
    }
    Ok(confirmed)
}

/// Among the trained candidates (in id order): how many repeat an earlier one's fingerprint, and
/// how many more repeat an earlier one's canonical form; with the median time (ms) of one
/// canonicalisation where it had to be computed (older stores, which are measured too).
pub fn duplicates(records: &[Record]) -> (usize, usize, f64) {
    let (mut fingerprints, mut forms): (Vec<&str>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut exact, mut rewritten) = (0, 0);
    let mut ms = Vec::new();
    for r in records.iter().filter(|r| r.status.evaluated()) {
        if r.status == Status::Reused && r.reused_from.is_some() && !r.properties.contains("\"equivalent\"") {
            exact += 1;
            continue;
        }
        // Stored with the candidate since canonical forms exist; older stores: computed (timed).
        let f = match &r.canonical {
            Some(f) => f.clone(),
            None => {
                let t0 = std::time::Instant::now();
                let Some(f) = form(&r.source) else { continue };
                ms.push(t0.elapsed().as_secs_f64() * 1e3);
                f.fingerprint
            }
        };
        if fingerprints.contains(&r.fingerprint.as_str()) {
            exact += 1;
        } else if forms.contains(&f) {
            rewritten += 1;
        }
        fingerprints.push(&r.fingerprint);
        forms.push(f);
    }
    ms.sort_by(f64::total_cmp);
    (exact, rewritten, ms.get(ms.len() / 2).copied().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "model M(x: [B, 8]) -> [B, 4] {\n    return x |> dense(8) |> relu |> relu |> dense(4)\n}\n";
    const B: &str = "model M(x: [B, 8]) -> [B, 4] {\n    return x |> dense(8) |> relu |> identity |> dense(4)\n}\n";

    #[test]
    fn an_equivalence_is_stored_with_proofs_that_replay_and_corruption_is_caught() {
        let (fa, fb) = (form(A).unwrap(), form(B).unwrap());
        assert_eq!(fa.fingerprint, fb.fingerprint);
        let ev = evidence(&fb, 0, &fa);
        assert!(check(B, A, &ev).is_ok());
        // Corrupted: a rule that does not apply, a missing step, another claimed form.
        let mut bad = ev.clone();
        bad["proof"][0]["rules"][0] = json!("scale_fold");
        assert!(check(B, A, &bad).unwrap_err().to_string().contains("does not apply"));
        let mut short = ev.clone();
        short["proof_of_other"] = json!([]);
        assert!(check(B, A, &short).unwrap_err().to_string().contains("not the stored form"));
        let mut claim = ev.clone();
        claim["canonical"] = json!("0000000000000000");
        assert!(check(B, A, &claim).is_err());
        // Replayed on another program, the proof fails.
        let other = "model M(x: [B, 8]) -> [B, 4] {\n    return x |> dense(8) |> gelu |> gelu |> dense(4)\n}\n";
        assert!(check(other, A, &ev).is_err());
    }

    #[test]
    fn duplicates_count_fingerprints_and_forms_apart() {
        let rec = |id: i64, text: &str, fp: &str| {
            let mut r = Record::new(id, None, "alpha", "m", text.into(), fp.into(), "{}".into());
            r.status = Status::Done;
            r
        };
        let (exact, rewritten, ms) = duplicates(&[rec(0, A, "a"), rec(1, B, "b"), rec(2, A, "a")]);
        assert_eq!((exact, rewritten), (1, 1));
        assert!(ms >= 0.0);
    }
}
