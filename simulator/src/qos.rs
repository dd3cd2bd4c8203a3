//! Priority Optimization (QoS) rules: per-volume-set and system-wide I/O limits and goals.
//!
//! What it holds: one rule per target (a volume set, or the system's `all_others` bucket) with
//! the limits a user set; unset limits stay unset and are reported as absent.
//! What it deliberately does not do: throttle anything. The model has no I/O scheduler, so a rule
//! is configuration that clients can read back, not a behaviour the data path obeys.
//! Design choice: a rule is keyed by the set's id, not its name, so renaming a set keeps its rule
//! without any bookkeeping; the cost is that callers resolve names to ids first.

use std::collections::BTreeMap;

use crate::array::{Array, ArrayMut};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::SetId;

/// What a QoS rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QosTarget {
    /// Every volume of one volume set (WSAPI `vvset:<name>`, type 1).
    VolumeSet(SetId),
    /// Everything not covered by another rule (WSAPI `sys:all_others`, type 2).
    AllOthers,
}

/// A QoS target as a caller names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QosTargetName {
    /// A volume set by name.
    VolumeSet(String),
    /// The system-wide `all_others` rule.
    AllOthers,
}

/// Limits and goals of a rule. `None` means "not set" (in a spec: "leave as it is").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QosLimits {
    /// Priority: 1 low, 2 normal, 3 high.
    pub priority: Option<u8>,
    /// Bandwidth minimum goal, KB/s.
    pub bw_min_goal_kb: Option<u64>,
    /// Bandwidth maximum limit, KB/s.
    pub bw_max_limit_kb: Option<u64>,
    /// I/O minimum goal, IO/s.
    pub io_min_goal: Option<u64>,
    /// I/O maximum limit, IO/s.
    pub io_max_limit: Option<u64>,
    /// Special value of the bandwidth goal: 1 zero, 2 no limit.
    pub bw_min_goal_op: Option<u8>,
    /// Special value of the bandwidth limit: 1 zero, 2 no limit.
    pub bw_max_limit_op: Option<u8>,
    /// Special value of the I/O goal: 1 zero, 2 no limit.
    pub io_min_goal_op: Option<u8>,
    /// Special value of the I/O limit: 1 zero, 2 no limit.
    pub io_max_limit_op: Option<u8>,
    /// Latency goal, milliseconds.
    pub latency_goal_ms: Option<u64>,
    /// Latency goal, microseconds.
    pub latency_goal_us: Option<u64>,
    /// Use the system's default latency goal.
    pub default_latency: Option<bool>,
    /// Whether the rule is enabled.
    pub enabled: Option<bool>,
}

/// One QoS rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QosRule {
    /// What it applies to.
    pub target: QosTarget,
    /// Rule id on its array (allocated from a counter).
    pub id: u32,
    /// Limits and goals as set.
    pub limits: QosLimits,
}

/// QoS rules of one array, keyed by target.
#[derive(Debug, Clone, Default)]
pub(crate) struct QosRules {
    pub(crate) rules: BTreeMap<QosTarget, QosRule>,
    pub(crate) next_id: u32,
}

fn check_limits(limits: &QosLimits) -> Result<()> {
    if let Some(priority) = limits.priority
        && !(1..=3).contains(&priority)
    {
        return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "QoS priority must be 1..=3"));
    }
    for op in [limits.bw_min_goal_op, limits.bw_max_limit_op, limits.io_min_goal_op, limits.io_max_limit_op] {
        if let Some(op) = op
            && !(1..=2).contains(&op)
        {
            return Err(Error::new(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "QoS limit operation must be 1 or 2"));
        }
    }
    let min_above_max = |min: Option<u64>, max: Option<u64>| matches!((min, max), (Some(a), Some(b)) if a > b);
    if min_above_max(limits.bw_min_goal_kb, limits.bw_max_limit_kb)
        || min_above_max(limits.io_min_goal, limits.io_max_limit)
    {
        return Err(Error::new(ErrorCode::INV_INPUT_MIN_GOAL_GT_MAX_LIMIT, "a QoS minimum goal exceeds its limit"));
    }
    Ok(())
}

fn merge(old: &QosLimits, new: &QosLimits) -> QosLimits {
    QosLimits {
        priority: new.priority.or(old.priority),
        bw_min_goal_kb: new.bw_min_goal_kb.or(old.bw_min_goal_kb),
        bw_max_limit_kb: new.bw_max_limit_kb.or(old.bw_max_limit_kb),
        io_min_goal: new.io_min_goal.or(old.io_min_goal),
        io_max_limit: new.io_max_limit.or(old.io_max_limit),
        bw_min_goal_op: new.bw_min_goal_op.or(old.bw_min_goal_op),
        bw_max_limit_op: new.bw_max_limit_op.or(old.bw_max_limit_op),
        io_min_goal_op: new.io_min_goal_op.or(old.io_min_goal_op),
        io_max_limit_op: new.io_max_limit_op.or(old.io_max_limit_op),
        latency_goal_ms: new.latency_goal_ms.or(old.latency_goal_ms),
        latency_goal_us: new.latency_goal_us.or(old.latency_goal_us),
        default_latency: new.default_latency.or(old.default_latency),
        enabled: new.enabled.or(old.enabled),
    }
}

impl Array {
    /// QoS rules, volume-set rules first (by set id), then `all_others`.
    pub fn qos_rules(&self) -> impl Iterator<Item = &QosRule> {
        self.qos.rules.values()
    }

    /// Resolves a target name.
    ///
    /// Errors: `INV_INPUT_QOS_TARGET_OBJECT` when the volume set does not exist.
    pub fn qos_target(&self, name: &QosTargetName) -> Result<QosTarget> {
        match name {
            QosTargetName::AllOthers => Ok(QosTarget::AllOthers),
            QosTargetName::VolumeSet(set) => self.volume_sets.id_of(set).map(QosTarget::VolumeSet).ok_or_else(|| {
                Error::new(ErrorCode::INV_INPUT_QOS_TARGET_OBJECT, format!("volume set '{set}' does not exist"))
            }),
        }
    }

    /// The rule on `target`.
    ///
    /// Errors: `NON_EXISTENT_QOS_RULE`.
    pub fn qos_rule(&self, target: QosTarget) -> Result<&QosRule> {
        self.qos.rules.get(&target).ok_or_else(|| {
            Error::new(ErrorCode::NON_EXISTENT_QOS_RULE, format!("no QoS rule on {}", self.qos_target_text(target)))
        })
    }

    /// `target` as the WSAPI names it (`vvset:<name>`, `sys:all_others`), for messages.
    pub(crate) fn qos_target_text(&self, target: QosTarget) -> String {
        match target {
            QosTarget::VolumeSet(set) => match self.volume_sets.get(set) {
                Some(set) => format!("vvset:{}", set.name),
                None => format!("a deleted volume set (id {})", set.0),
            },
            QosTarget::AllOthers => "sys:all_others".to_owned(),
        }
    }
}

impl ArrayMut<'_> {
    /// Creates the rule on `target` (enabled unless `limits.enabled` says otherwise).
    ///
    /// Errors, in order: `INV_INPUT_BAD_ENUM_VALUE`; `INV_INPUT_MIN_GOAL_GT_MAX_LIMIT`;
    /// `INV_INPUT_QOS_TARGET_OBJECT` (unknown set); `EXISTENT_QOS_RULE`.
    pub fn create_qos_rule(&mut self, target: &QosTargetName, limits: QosLimits) -> Result<u32> {
        self.require_online()?;
        check_limits(&limits)?;
        let target = self.qos_target(target)?;
        if self.qos.rules.contains_key(&target) {
            let text = self.qos_target_text(target);
            return Err(Error::new(ErrorCode::EXISTENT_QOS_RULE, format!("a QoS rule exists on {text}")));
        }
        self.array.qos.next_id += 1;
        let id = self.array.qos.next_id;
        let limits = QosLimits { enabled: Some(limits.enabled.unwrap_or(true)), ..limits };
        self.array.qos.rules.insert(target, QosRule { target, id, limits });
        self.trace("qos", format_args!("create QoS rule {id} on {target:?}"));
        Ok(id)
    }

    /// Changes the limits given in `changes` and keeps the others.
    ///
    /// Errors: `INV_INPUT_BAD_ENUM_VALUE`; `INV_INPUT_QOS_TARGET_OBJECT`; `NON_EXISTENT_QOS_RULE`;
    /// `INV_INPUT_MIN_GOAL_GT_MAX_LIMIT` (for the merged limits).
    pub fn modify_qos_rule(&mut self, target: &QosTargetName, changes: QosLimits) -> Result<()> {
        self.require_online()?;
        check_limits(&QosLimits { bw_min_goal_kb: None, io_min_goal: None, ..changes.clone() })?;
        let target = self.qos_target(target)?;
        let merged = merge(&self.qos_rule(target)?.limits, &changes);
        check_limits(&merged)?;
        self.array.qos.rules.get_mut(&target).expect("rule exists").limits = merged;
        self.trace("qos", format_args!("modify QoS rule on {target:?}"));
        Ok(())
    }

    /// Deletes the rule on `target`.
    ///
    /// Errors: `INV_INPUT_QOS_TARGET_OBJECT`; `NON_EXISTENT_QOS_RULE`.
    pub fn delete_qos_rule(&mut self, target: &QosTargetName) -> Result<()> {
        self.require_online()?;
        let target = self.qos_target(target)?;
        self.qos_rule(target)?;
        self.array.qos.rules.remove(&target);
        self.trace("qos", format_args!("delete QoS rule on {target:?}"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CpgSpec, SetChanges, SetSpec, Simulation};

    // Goal: a QoS rule follows its volume set through a rename and disappears with it; refused
    // requests change nothing. Method: drive the model API and read the rules back.
    #[test]
    fn rules_follow_their_set() {
        let mut sim = Simulation::new(1);
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        array.create_cpg(CpgSpec { name: "c".into(), ..CpgSpec::default() }).unwrap();
        array.create_volume_set(SetSpec { name: "vs".into(), ..SetSpec::default() }).unwrap();
        let vs = QosTargetName::VolumeSet("vs".into());
        let limits = QosLimits { io_max_limit: Some(100), io_min_goal: Some(10), ..QosLimits::default() };
        array.create_qos_rule(&vs, limits.clone()).unwrap();
        assert_eq!(array.create_qos_rule(&vs, limits).unwrap_err().code, ErrorCode::EXISTENT_QOS_RULE);
        let bad = QosLimits { io_min_goal: Some(1000), ..QosLimits::default() };
        assert_eq!(array.modify_qos_rule(&vs, bad).unwrap_err().code, ErrorCode::INV_INPUT_MIN_GOAL_GT_MAX_LIMIT);
        array.modify_volume_set("vs", SetChanges { new_name: Some("vs2".into()), ..SetChanges::default() }).unwrap();
        let renamed = QosTargetName::VolumeSet("vs2".into());
        let target = array.qos_target(&renamed).unwrap();
        assert_eq!(array.qos_rule(target).unwrap().limits.io_max_limit, Some(100));
        assert_eq!(array.qos_rule(target).unwrap().limits.enabled, Some(true));
        array.delete_volume_set("vs2").unwrap();
        assert_eq!(array.qos_rules().count(), 0);
        assert_eq!(array.delete_qos_rule(&renamed).unwrap_err().code, ErrorCode::INV_INPUT_QOS_TARGET_OBJECT);
    }

    // Goal: the flash cache exists at most once and deleting a missing one reports code 285.
    #[test]
    fn flash_cache_exists_at_most_once() {
        let mut sim = Simulation::new(1);
        let a = sim.primary();
        let mut array = sim.array_mut(a);
        assert_eq!(array.delete_flash_cache().unwrap_err().code.number(), 285);
        array.create_flash_cache(64, None).unwrap();
        assert_eq!(array.create_flash_cache(64, None).unwrap_err().code, ErrorCode::EXISTENT_FLASH_CACHE);
        assert_eq!(array.flash_cache().unwrap().size_gib, 64);
        array.delete_flash_cache().unwrap();
        assert!(array.flash_cache().is_err());
    }
}
