//! nginx and Apache httpd run on loopback with an exported configuration, for
//! the live export tests (tests/export.rs and tests/export_attack.rs).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use crate::edge::{is_root, wait_port, which, Running};

/// nginx or Apache httpd.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Server {
    Nginx,
    Apache,
}

impl Server {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Nginx => "nginx",
            Server::Apache => "apache",
        }
    }

    pub(crate) fn start(self, exported: &str, dir: &Path, port: u16) -> Running {
        self.start_with(exported, dir, port, "")
    }

    /// `start`, with `extra` directives in the server context (nginx's
    /// `server {}`, Apache's main configuration), before the exported part.
    pub(crate) fn start_with(self, exported: &str, dir: &Path, port: u16, extra: &str) -> Running {
        let log = dir.join("error.log");
        let d = dir.display();
        let mut child = match self {
            Server::Nginx => {
                let bin = which(&["nginx"]).expect(
                    "nginx is needed for this test (Debian: apt-get install nginx; scripts/test installs it)",
                );
                let (http_part, server_part) = exported
                    .split_once("# ---- server {} context")
                    .expect("the nginx export has a server part");
                let conf = format!(
                    "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                     events {{ worker_connections 256; }}\n\
                     http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                     fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                     {http_part}\n  server {{\n    listen 127.0.0.1:{port};\n    {extra}\n    # ---- server {{}} context{server_part}\n  }}\n}}\n"
                );
                std::fs::write(dir.join("nginx.conf"), conf).unwrap();
                Command::new(bin)
                    .arg("-p")
                    .arg(dir)
                    .arg("-e")
                    .arg(&log)
                    .arg("-c")
                    .arg(dir.join("nginx.conf"))
                    .args(["-g", "daemon off;"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
                    .spawn()
                    .unwrap()
            }
            Server::Apache => {
                let bin = which(&["apache2", "httpd"]).expect(
                    "Apache httpd is needed for this test (Debian: apt-get install apache2; scripts/test installs it)",
                );
                let modules = [
                    "/usr/lib/apache2/modules",
                    "/usr/lib64/httpd/modules",
                    "/usr/lib/httpd/modules",
                ]
                .into_iter()
                .find(|m| Path::new(m).join("mod_headers.so").is_file())
                .expect("Apache's modules directory");
                std::fs::write(dir.join("exported.conf"), exported).unwrap();
                let mut conf = format!(
                    "ServerRoot {d}\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\nErrorLog {d}/error.log\n\
                     LogLevel warn\nDefaultRuntimeDir {d}\nServerName 127.0.0.1\n"
                );
                for (name, file) in [
                    ("mpm_event_module", "mod_mpm_event.so"),
                    ("authz_core_module", "mod_authz_core.so"),
                    ("headers_module", "mod_headers.so"),
                    ("setenvif_module", "mod_setenvif.so"),
                    ("rewrite_module", "mod_rewrite.so"),
                    ("proxy_module", "mod_proxy.so"),
                    ("proxy_http_module", "mod_proxy_http.so"),
                ] {
                    conf.push_str(&format!("LoadModule {name} {modules}/{file}\n"));
                }
                if is_root() {
                    conf.push_str("User nobody\nGroup nogroup\n");
                }
                conf.push_str(extra);
                conf.push('\n');
                conf.push_str(&format!("Include {d}/exported.conf\n"));
                std::fs::write(dir.join("httpd.conf"), conf).unwrap();
                Command::new(bin)
                    .arg("-d")
                    .arg(dir)
                    .arg("-f")
                    .arg(dir.join("httpd.conf"))
                    .arg("-DFOREGROUND")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
                    .spawn()
                    .unwrap()
            }
        };
        wait_port(port, &mut child, &dir.join("stderr.log"));
        Running { child }
    }
}
