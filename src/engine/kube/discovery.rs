//! Which kinds the cluster serves, at which path, namespaced or not: one
//! request per API group-version, cached for the run. A group-version is read
//! again on demand, for the kinds a just-established CRD adds (discovery lags
//! `Established`: DESIGN §10).

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::core::ApiResource;

/// A kind the cluster serves.
#[derive(Debug, Clone)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
    /// Has a `/status` subresource.
    pub status: bool,
}

impl Resource {
    /// `Kind.group` as ApplySet annotations spell it (`Deployment.apps`, `Secret`).
    pub fn group_kind(&self) -> String {
        if self.api.group.is_empty() {
            self.api.kind.clone()
        } else {
            format!("{}.{}", self.api.kind, self.api.group)
        }
    }
}

/// Group-version documents read so far; `None` when the cluster does not serve
/// the group-version at all.
#[derive(Default)]
pub struct Cache {
    versions: HashMap<String, Option<Vec<Resource>>>,
}

impl Cache {
    pub fn get(&self, api_version: &str) -> Option<&Option<Vec<Resource>>> {
        self.versions.get(api_version)
    }

    pub fn insert(&mut self, api_version: &str, list: Option<APIResourceList>) {
        let resources = list.map(|l| parse(api_version, &l));
        self.versions.insert(api_version.to_string(), resources);
    }

    pub fn find(&self, api_version: &str, kind: &str) -> Option<Resource> {
        self.versions
            .get(api_version)?
            .as_ref()?
            .iter()
            .find(|r| r.api.kind == kind)
            .cloned()
    }
}

fn parse(api_version: &str, list: &APIResourceList) -> Vec<Resource> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    };
    let subresources: Vec<&str> = list
        .resources
        .iter()
        .filter_map(|r| r.name.split_once('/'))
        .filter(|(_, sub)| *sub == "status")
        .map(|(plural, _)| plural)
        .collect();
    list.resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| Resource {
            api: ApiResource {
                group: group.clone(),
                version: version.clone(),
                api_version: api_version.to_string(),
                kind: r.kind.clone(),
                plural: r.name.clone(),
            },
            namespaced: r.namespaced,
            status: subresources.contains(&r.name.as_str()),
        })
        .collect()
}
