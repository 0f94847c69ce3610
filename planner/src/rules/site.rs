//! Checks on the person, the site and the cluster's plumbing: `system-admin`, `database-backup`,
//! `context-namespace`, `default-storageclass`, `database-connection`.

use super::{finding, RuleInput};
use crate::report::{name_list, Finding, Status};

pub fn system_admin(ctx: &RuleInput) -> Finding {
    const ID: &str = "system-admin";
    if ctx.acks.system_admin {
        finding(
            ID,
            Status::Pass,
            "acknowledged: the person running the upgrade is an Astronomer System Admin",
            None,
            Vec::new(),
        )
    } else {
        ctx.missing(
            ID,
            "not acknowledged that the person running the upgrade is an Astronomer System Admin (only System Admins may run it)",
            "confirm that the System Admin menu is visible in the Astronomer UI, then add `--ack system-admin`".into(),
        )
    }
}

pub fn database_backup(ctx: &RuleInput) -> Finding {
    const ID: &str = "database-backup";
    match ctx.acks.database_backup.as_deref().map(str::trim) {
        Some(reference) if !reference.is_empty() => finding(
            ID,
            Status::Pass,
            format!("acknowledged: the platform database was backed up ({reference})"),
            None,
            Vec::new(),
        ),
        _ => ctx.missing(
            ID,
            "no backup of the platform database was acknowledged (your last resort if both the upgrade and its rollback fail)",
            "back up the platform database (your cloud provider's snapshot, or ask your DBA), then add `--ack database-backup=<ticket or snapshot id>`".into(),
        ),
    }
}

pub fn context_namespace(ctx: &RuleInput) -> Finding {
    const ID: &str = "context-namespace";
    let target = ctx.path.upgrade_namespace;
    let switch = format!("kubectl config set-context --current --namespace={target}");
    let Some(current) = ctx.facts.contexts.iter().rfind(|c| c.current) else {
        let what = if ctx.facts.contexts.is_empty() {
            "the kubectl contexts were not pasted"
        } else {
            "no context is marked current (`*`)"
        };
        return ctx.missing(
            ID,
            what,
            format!(
                "before applying the manifest run `{switch}`, and paste `kubectl config get-contexts`"
            ),
        );
    };
    let namespace = current
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(target);
    if namespace == target {
        finding(
            ID,
            Status::Pass,
            format!(
                "the current context `{}` uses namespace `{target}`",
                current.name
            ),
            None,
            vec![current.at.clone()],
        )
    } else {
        finding(
            ID,
            Status::Warn,
            format!(
                "the current context `{}` uses namespace `{namespace}`; the manifest's objects would land there and the upgrade fails (its binding names `{target}`)",
                current.name
            ),
            Some(format!("run `{switch}` before applying the manifest")),
            vec![current.at.clone()],
        )
    }
}

pub fn default_storageclass(ctx: &RuleInput) -> Finding {
    const ID: &str = "default-storageclass";
    let classes = &ctx.facts.storage_classes;
    let size = ctx.path.backup_volume_size;
    if classes.is_empty() {
        return ctx.missing(
            ID,
            "no StorageClass listing was pasted",
            "paste the output of `kubectl get storageclass`".into(),
        );
    }
    let defaults: Vec<_> = classes.iter().filter(|c| c.default).collect();
    let evidence: Vec<_> = classes.iter().map(|c| c.at.clone()).collect();
    match defaults.as_slice() {
        [] => {
            let name = classes.first().map_or("<name>", |c| c.name.as_str());
            finding(
                ID,
                Status::Fail,
                format!(
                    "no StorageClass is marked (default); the upgrade's {size} backup volume would stay Pending"
                ),
                Some(format!(
                    "mark one as default: `kubectl patch storageclass {name} -p '{{\"metadata\": {{\"annotations\":{{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}}}}'`"
                )),
                evidence,
            )
        }
        [one] => finding(
            ID,
            Status::Pass,
            format!(
                "StorageClass `{}` is the default for the {size} backup volume",
                one.name
            ),
            None,
            vec![one.at.clone()],
        ),
        several => {
            let names: Vec<&str> = several.iter().map(|c| c.name.as_str()).collect();
            finding(
                ID,
                Status::Fail,
                format!(
                    "{} StorageClasses are marked default ({}); Kubernetes before 1.26 refuses to create the backup volume",
                    several.len(),
                    name_list(&names, ", ")
                ),
                Some(format!(
                    "keep one default: `kubectl patch storageclass {} -p '{{\"metadata\": {{\"annotations\":{{\"storageclass.kubernetes.io/is-default-class\":\"false\"}}}}}}'`",
                    names[1]
                )),
                several.iter().map(|c| c.at.clone()).collect(),
            )
        }
    }
}

pub fn database_connection(ctx: &RuleInput) -> Finding {
    const ID: &str = "database-connection";
    let ns = ctx.platform_namespace();
    let secret = ctx.path.bootstrap_secret;
    let Some(connection) = &ctx.facts.database_connection else {
        return ctx.missing(
            ID,
            &format!("the `{secret}` connection string was not pasted"),
            format!(
                "paste the output of `kubectl get secret {secret} -n {ns} -o jsonpath='{{.data.connection}}' | base64 -d` (the password is dropped as soon as it is read)"
            ),
        );
    };
    let rewrite = format!(
        "rewrite the secret as `postgres://USER:PASSWORD@{}:5432`: `kubectl create secret generic {secret} -n {ns} --from-literal=connection='postgres://USER:PASSWORD@{}:5432' --dry-run=client -o yaml | kubectl apply -f -`",
        connection.host, connection.host
    );
    let evidence = vec![connection.at.clone()];
    let scheme = connection.scheme.to_ascii_lowercase();
    if scheme != "postgres" {
        finding(
            ID,
            Status::Fail,
            format!(
                "`{secret}` uses the scheme `{}://`; the upgrader only reads `postgres://`",
                connection.scheme
            ),
            Some(rewrite),
            evidence,
        )
    } else if !connection.has_port {
        finding(
            ID,
            Status::Fail,
            format!(
                "`{secret}` names no port for host `{}`; the upgrader needs an explicit port",
                connection.host
            ),
            Some(rewrite),
            evidence,
        )
    } else {
        finding(
            ID,
            Status::Pass,
            format!(
                "`{secret}` uses the `postgres` scheme and an explicit port on host `{}`, as the upgrader expects",
                connection.host
            ),
            None,
            evidence,
        )
    }
}
