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

/// What the upgrader's own backup leaves out: it dumps only `<release>_houston`, never the
/// Airflow deployments' databases on the same Postgres instance.
fn backup_scope(ctx: &RuleInput) -> String {
    let release = ctx
        .platform_release()
        .map_or(ctx.path.platform_chart, |r| r.name.as_str());
    let houston = crate::playbook::houston_database(release);
    let airflow: Vec<String> = crate::playbook::upgrader_airflow_releases(ctx.facts)
        .iter()
        .map(|r| format!("`{}`", r.name))
        .collect();
    let deployments = match airflow.len() {
        0 => "the Airflow deployments' databases".to_string(),
        1 => format!("the database of the Airflow deployment {}", airflow[0]),
        n => format!(
            "the databases of the {n} Airflow deployments ({})",
            name_list(&airflow, ", ")
        ),
    };
    format!("the upgrader dumps only `{houston}`, not {deployments}")
}

pub fn database_backup(ctx: &RuleInput) -> Finding {
    const ID: &str = "database-backup";
    let scope = backup_scope(ctx);
    match ctx.acks.database_backup.as_deref().map(str::trim) {
        Some(reference) if !reference.is_empty() => finding(
            ID,
            Status::Pass,
            format!(
                "acknowledged: the whole platform Postgres instance was backed up ({reference}); it is the only backup of what the upgrader does not dump: {scope}"
            ),
            None,
            Vec::new(),
        ),
        _ => ctx.missing(
            ID,
            &format!(
                "no backup of the whole platform Postgres instance was acknowledged: {scope} (your last resort if both the upgrade and its rollback fail)"
            ),
            "back up the whole Postgres instance, every database on it (your cloud provider's snapshot, or ask your DBA), then add `--ack database-backup=<ticket or snapshot id>`".into(),
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
    let evidence = vec![connection.at.clone()];
    let rewrite = |host: &str| {
        format!(
            "rewrite the secret as `postgres://USER:PASSWORD@{host}:5432`: `kubectl create secret generic {secret} -n {ns} --from-literal=connection='postgres://USER:PASSWORD@{host}:5432' --dry-run=client -o yaml | kubectl apply -f -`"
        )
    };
    let pattern = crate::playbook::CONNECTION_PATTERN;
    if !connection.scheme.eq_ignore_ascii_case("postgres") {
        return finding(
            ID,
            Status::Fail,
            format!(
                "`{secret}` uses the scheme `{}://`; the upgrader only reads `postgres://` (its pattern `{pattern}` does not match)",
                connection.scheme
            ),
            Some(rewrite(&connection.host)),
            evidence,
        );
    }
    if !connection.upgrader_evaluated {
        // facts written before the upgrader's pattern was evaluated (an older bundle)
        return if connection.has_port {
            finding(
                ID,
                Status::Pass,
                format!(
                    "`{secret}` uses the `postgres` scheme and an explicit port on host `{}` (not split with the upgrader's pattern: collect the evidence again to have it checked)",
                    connection.host
                ),
                None,
                evidence,
            )
        } else {
            finding(
                ID,
                Status::Fail,
                format!(
                    "`{secret}` names no port for host `{}`; the upgrader needs an explicit port",
                    connection.host
                ),
                Some(rewrite(&connection.host)),
                evidence,
            )
        };
    }
    let Some(split) = &connection.upgrader else {
        let why = if connection.has_port {
            "it needs `postgres://` in lower case, then `USER:PASSWORD@` before the host (a user without a password, or no user, does not match)"
        } else {
            "there is no `:PORT` after the host"
        };
        return finding(
            ID,
            Status::Fail,
            format!(
                "the upgrader splits `{secret}` with `{pattern}`, which does not match: {why}; it stops there, before its backup"
            ),
            Some(rewrite(&connection.host)),
            evidence,
        );
    };
    let database = crate::playbook::houston_database(
        ctx.platform_release()
            .map_or(ctx.path.platform_chart, |r| r.name.as_str()),
    );
    let (problems, warnings) = connection_problems(split);
    let reads = if split.host_holds_password {
        format!(
            "the upgrader reads `{secret}` as user `{}`, and its host and port from the rest of the password",
            split.user
        )
    } else {
        format!(
            "the upgrader reads `{secret}` as user `{}`, host `{}`, port `{}`",
            split.user, split.host, split.port
        )
    };
    if !problems.is_empty() {
        let host = if problems_of_host(split) {
            connection.host.as_str()
        } else {
            split.host.as_str()
        };
        let remedy = if split.host_holds_password {
            format!(
                "change the database password to one without `@` (the pattern ends the password at the first `@`, and escaping it as `%40` does not help: the upgrader does not decode it), then {}",
                rewrite(host)
            )
        } else {
            rewrite(host)
        };
        return finding(
            ID,
            Status::Fail,
            format!("{reads}: {}", problems.join("; ")),
            Some(remedy),
            evidence,
        );
    }
    if !warnings.is_empty() {
        let mut remedies = Vec::new();
        if split.percent_encoded {
            remedies.push("write the user and password in the secret as they are, without `%XX` escapes (if the password needed them for `@`, choose one without `@`)");
        }
        if split.password_empty {
            remedies.push(
                "make sure the database accepts that user without a password, or add the password",
            );
        }
        if !split.port.bytes().all(|b| b.is_ascii_digit()) {
            remedies.push("write the port in ASCII digits");
        }
        return finding(
            ID,
            Status::Warn,
            format!("{reads}: {}", warnings.join("; ")),
            Some(format!("{}: {}", remedies.join("; "), rewrite(&split.host))),
            evidence,
        );
    }
    finding(
        ID,
        Status::Pass,
        format!(
            "{reads}, and connects to database `{database}` (what follows the port is ignored)"
        ),
        None,
        evidence,
    )
}

/// Whether the split's host is unusable (the remedy then names the host a URL parser reads).
fn problems_of_host(split: &crate::facts::UpgraderSplit) -> bool {
    split.host_holds_password || !plausible_host(&split.host)
}

/// A host name or an IPv4 address: no brackets, slashes or spaces.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '[' | ']' | '?' | '#' | '@'))
}

/// What stops the upgrader (problems) and what only may (warnings) in its split.
fn connection_problems(split: &crate::facts::UpgraderSplit) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if split.host_holds_password {
        problems.push(format!(
            "the password holds `@`: the upgrader ends it at its first `@`, so it cannot connect (the string means host `{}`)",
            split.host
        ));
        return (problems, warnings);
    }
    if split.host.is_empty() {
        problems.push("the host is empty".to_string());
    } else if split.host.starts_with('[') {
        problems.push("an IPv6 address in brackets is cut at its first `:`: use a host name or an IPv4 address".to_string());
    } else if !plausible_host(&split.host) {
        problems.push(format!("`{}` cannot be a host", split.host));
    }
    if split.port.is_empty() {
        problems.push("no digits follow the host's `:`, so the port is empty".to_string());
    } else if split.port.bytes().all(|b| b.is_ascii_digit()) {
        if !split.port.parse::<u16>().is_ok_and(|port| port > 0) {
            problems.push(format!("port `{}` is not a TCP port (1–65535)", split.port));
        }
    } else {
        warnings.push(format!(
            "port `{}` is written in non-ASCII digits (Python's `\\d` takes them); write it in ASCII digits",
            split.port
        ));
    }
    if split.user.is_empty() {
        problems.push("the user is empty".to_string());
    }
    if split.percent_encoded {
        warnings.push("the user or password holds `%XX` escapes, which the upgrader passes to Postgres undecoded: the login fails unless the password really contains them".to_string());
    }
    if split.password_empty {
        warnings.push("the password is empty: the upgrader logs in without one".to_string());
    }
    (problems, warnings)
}
