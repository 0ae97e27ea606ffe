//! The order of kinds (DESIGN §5) as one table: for each kind, the group it is
//! applied in. Everything else about kind order is read from that table: the
//! rank that sorts rendered output and prunes in reverse ([`kind_rank`]), the
//! stage the planner puts an object in ([`Group::stage`]) and the setup groups
//! that wait for each other inside a scope ([`Group::SETUP`]). Pure data and
//! lookups: it builds no graph (that is `plan`) and knows no cluster.

/// Where a kind sits in the order of DESIGN §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Cluster prerequisites (StorageClass, PriorityClass, IngressClass):
    /// everything else waits for them.
    Prerequisites,
    /// CustomResourceDefinitions: their custom resources wait for them.
    Crds,
    /// Namespaces: everything in them waits for them.
    Namespaces,
    /// Policies, accounts, config, volumes, RBAC and Services, in the
    /// [`Group::SETUP`] order inside a scope; quick to become ready.
    Setup,
    /// Workloads, Ingresses and custom resources: they wait for their scope's
    /// setup and for the components they name, and otherwise run in parallel.
    Workloads,
    /// Webhooks and API services: last in their scope, after every workload,
    /// so they never point at a backend that is not up.
    Webhooks,
}

impl Stage {
    pub fn title(self) -> &'static str {
        match self {
            Stage::Prerequisites => "cluster prerequisites",
            Stage::Crds => "CRDs",
            Stage::Namespaces => "namespaces",
            Stage::Setup => "setup (policies, accounts, config, volumes, RBAC, services)",
            Stage::Workloads => "workloads, by dependency",
            Stage::Webhooks => "webhooks and API services",
        }
    }
}

/// A row's place in the order: its stage, with the setup stage split into the
/// groups that wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Prerequisites,
    Crds,
    Namespaces,
    /// Setup: policies, quotas, accounts, Secrets and ConfigMaps.
    Policies,
    /// Setup: volumes and their claims.
    Volumes,
    /// Setup: roles.
    Roles,
    /// Setup: role bindings.
    Bindings,
    /// Setup: Services.
    Services,
    Workloads,
    Webhooks,
}

impl Group {
    /// The setup groups, in order: each starts when the one before it (in the
    /// same scope) is ready.
    pub const SETUP: [Group; 5] = [
        Group::Policies,
        Group::Volumes,
        Group::Roles,
        Group::Bindings,
        Group::Services,
    ];

    /// The stage this group belongs to.
    pub fn stage(self) -> Stage {
        match self {
            Group::Prerequisites => Stage::Prerequisites,
            Group::Crds => Stage::Crds,
            Group::Namespaces => Stage::Namespaces,
            Group::Policies | Group::Volumes | Group::Roles | Group::Bindings | Group::Services => {
                Stage::Setup
            }
            Group::Workloads => Stage::Workloads,
            Group::Webhooks => Stage::Webhooks,
        }
    }

    /// The position of a setup group in [`Group::SETUP`]; `None` outside setup.
    pub fn setup_index(self) -> Option<usize> {
        Self::SETUP.iter().position(|g| *g == self)
    }
}

/// The row that stands for every kind the table does not name: custom
/// resources, and built-in kinds cnvrgctl does not render.
const OTHER_KINDS: &str = "*";

/// Every kind in apply order (its rank is its row); [`OTHER_KINDS`] marks
/// where unnamed kinds go. An APIService is served by a workload, so, like a
/// webhook, it goes last: it cannot be Available before that workload is.
const KIND_ORDER: &[(&str, Group)] = &[
    ("PriorityClass", Group::Prerequisites),
    ("StorageClass", Group::Prerequisites),
    ("IngressClass", Group::Prerequisites),
    ("CustomResourceDefinition", Group::Crds),
    ("Namespace", Group::Namespaces),
    ("NetworkPolicy", Group::Policies),
    ("ResourceQuota", Group::Policies),
    ("LimitRange", Group::Policies),
    ("PodSecurityPolicy", Group::Policies),
    ("PodDisruptionBudget", Group::Policies),
    ("ServiceAccount", Group::Policies),
    ("Secret", Group::Policies),
    ("ConfigMap", Group::Policies),
    ("PersistentVolume", Group::Volumes),
    ("PersistentVolumeClaim", Group::Volumes),
    ("ClusterRole", Group::Roles),
    ("Role", Group::Roles),
    ("ClusterRoleBinding", Group::Bindings),
    ("RoleBinding", Group::Bindings),
    ("Service", Group::Services),
    ("DaemonSet", Group::Workloads),
    ("Pod", Group::Workloads),
    ("ReplicaSet", Group::Workloads),
    ("StatefulSet", Group::Workloads),
    ("Deployment", Group::Workloads),
    ("HorizontalPodAutoscaler", Group::Workloads),
    ("Job", Group::Workloads),
    ("CronJob", Group::Workloads),
    ("Ingress", Group::Workloads),
    (OTHER_KINDS, Group::Workloads),
    ("APIService", Group::Webhooks),
    ("MutatingWebhookConfiguration", Group::Webhooks),
    ("ValidatingWebhookConfiguration", Group::Webhooks),
];

/// The rank of a kind: what others need comes first.
pub fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|(k, _)| *k == kind)
        .or_else(|| KIND_ORDER.iter().position(|(k, _)| *k == OTHER_KINDS))
        .expect("the table has a row for other kinds")
}

/// The group of a kind.
pub fn kind_group(kind: &str) -> Group {
    KIND_ORDER[kind_rank(kind)].1
}

/// Custom kinds whose readiness is a set of conditions other than `Ready`,
/// each of which must be True: (group, kind, condition types). The readiness
/// rules and the GitOps health checks both read it.
pub const READY_CONDITIONS: &[(&str, &str, &[&str])] = &[
    (
        "monitoring.coreos.com",
        "Prometheus",
        &["Available", "Reconciled"],
    ),
    (
        "monitoring.coreos.com",
        "PrometheusAgent",
        &["Available", "Reconciled"],
    ),
    (
        "monitoring.coreos.com",
        "Alertmanager",
        &["Available", "Reconciled"],
    ),
    (
        "monitoring.coreos.com",
        "ThanosRuler",
        &["Available", "Reconciled"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_never_go_back_a_stage() {
        let groups: Vec<Group> = KIND_ORDER.iter().map(|(_, g)| *g).collect();
        assert!(groups.is_sorted(), "the table is in group order");
        let setup: Vec<Group> = groups
            .into_iter()
            .filter(|g| g.stage() == Stage::Setup)
            .collect();
        assert_eq!(setup.first(), Some(&Group::SETUP[0]));
        assert_eq!(setup.last(), Some(&Group::SETUP[4]));
    }

    #[test]
    fn custom_resources_go_after_workloads_and_before_webhooks() {
        let cr = kind_rank("Certificate");
        assert_eq!(kind_rank("VirtualService"), cr);
        assert!(kind_rank("Ingress") < cr);
        assert!(cr < kind_rank("APIService"));
        assert!(cr < kind_rank("MutatingWebhookConfiguration"));
        assert_eq!(kind_group("Certificate").stage(), Stage::Workloads);
    }

    #[test]
    fn an_api_service_goes_last_with_the_webhooks() {
        assert_eq!(kind_group("APIService").stage(), Stage::Webhooks);
        assert!(kind_rank("APIService") > kind_rank("Deployment"));
        assert!(kind_rank("APIService") > kind_rank("Certificate"));
    }

    #[test]
    fn setup_groups_in_order() {
        let index = |kind| kind_group(kind).setup_index();
        assert_eq!(index("Secret"), Some(0));
        assert_eq!(index("PersistentVolumeClaim"), Some(1));
        assert_eq!(index("Role"), Some(2));
        assert_eq!(index("RoleBinding"), Some(3));
        assert_eq!(index("Service"), Some(4));
        assert_eq!(index("Deployment"), None);
        assert_eq!(kind_group("StorageClass").stage(), Stage::Prerequisites);
    }
}
