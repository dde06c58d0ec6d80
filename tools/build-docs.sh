#!/usr/bin/env bash
# Builds the documentation site into docs/_site: the API reference generated from the XML docs of src/Fluxion,
# the guide (docs/articles) and the op table (docs/ops.md), with DocFX, the local .NET tool pinned in
# .config/dotnet-tools.json. A broken link or an unresolved cross-reference fails the build (--warningsAsErrors).
# Serve the result with: dotnet docfx serve docs/_site
# Not run by CI (it takes minutes); tests/Fluxion.Tests/DocsTests.cs checks the pages' relative links instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dotnet tool restore >/dev/null
dotnet docfx docs/docfx.json --warningsAsErrors "$@"
echo "site: $root/docs/_site/index.html"
