#!/usr/bin/env bash
# Provide a `nextflow` in the given bin folder (the venv's).
#  - If a real Nextflow is already on PATH, link to it.
#  - Otherwise resolve io.nextflow:nextflow (24.10 line) and its dependencies from
#    Maven Central into .cache/nextflow and write a small launcher that runs
#    nextflow.cli.Launcher on Java 17+, offline.
set -euo pipefail
bin_dir=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.cache/nextflow"
launcher="$bin_dir/nextflow"

# A real nextflow elsewhere on PATH (not our own launcher) wins.
existing=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vxF "$bin_dir" | paste -sd:) command -v nextflow || true)
if [ -n "$existing" ]; then
  ln -sf "$existing" "$launcher"
  echo "setup-nextflow: using $existing"
  exit 0
fi

command -v java >/dev/null || { echo "setup-nextflow: java not found (Nextflow needs Java 17+)" >&2; exit 1; }
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1)
if [ "${java_major:-0}" -lt 17 ]; then
  echo "setup-nextflow: Java $java_major found; Nextflow 24.10 needs Java 17+" >&2; exit 1
fi

if [ ! -f "$cache/lib/.complete" ]; then
  command -v mvn >/dev/null || { echo "setup-nextflow: mvn not found (needed to fetch Nextflow from Maven Central)" >&2; exit 1; }
  echo "setup-nextflow: resolving Nextflow from Maven Central into $cache"
  rm -rf "$cache/lib.tmp"
  mvn -q -B -f "$repo/scripts/nextflow-runtime.pom.xml" \
      -Dmaven.repo.local="$cache/m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$cache/lib.tmp"
  rm -rf "$cache/lib" && mv "$cache/lib.tmp" "$cache/lib" && touch "$cache/lib/.complete"
fi

tmp="$launcher.tmp"
cat > "$tmp" <<LAUNCHER
#!/usr/bin/env bash
# Nextflow launcher written by calmodel's scripts/setup-nextflow.sh (jars from Maven Central).
export NXF_OFFLINE=\${NXF_OFFLINE:-true}
export NXF_HOME=\${NXF_HOME:-$cache/home}
opens=""
for pkg in java.lang java.io java.nio java.nio.file.spi java.net java.util \\
           java.util.concurrent.locks java.util.concurrent.atomic java.util.regex \\
           sun.nio.ch sun.nio.fs sun.net.www.protocol.http sun.net.www.protocol.https \\
           sun.net.www.protocol.ftp sun.net.www.protocol.file jdk.internal.misc jdk.internal.vm; do
  opens="\$opens --add-opens=java.base/\$pkg=ALL-UNNAMED"
done
exec java -XX:+TieredCompilation -XX:TieredStopAtLevel=1 \${NXF_OPTS:-} \$opens \\
  -cp "$cache/lib/*" nextflow.cli.Launcher "\$@"
LAUNCHER
chmod +x "$tmp" && mv "$tmp" "$launcher"
echo "setup-nextflow: $("$launcher" -version 2>&1 | grep -o 'version [0-9.]*' | head -1)"
