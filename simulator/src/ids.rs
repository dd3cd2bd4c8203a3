//! Newtype ids for model objects, allocated from counters (never from hashes or addresses).

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// Index of an array within its [`crate::Simulation`] (0 = the first array built).
    ArrayId
);
id_type!(
    /// A virtual volume's id on its array (the WSAPI `id`, also encoded in the WWN).
    VolumeId
);
id_type!(
    /// A CPG's id on its array.
    CpgId
);
id_type!(
    /// A host's id on its array.
    HostId
);
id_type!(
    /// A volume set's or host set's id on its array.
    SetId
);
id_type!(
    /// A task's id on its array (1..=65535, as the WSAPI requires).
    TaskId
);
id_type!(
    /// A Remote Copy group's id on its array.
    GroupId
);
