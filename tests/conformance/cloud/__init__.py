"""Cloud targets for the conformance suite (issue 24): one module a target."""
