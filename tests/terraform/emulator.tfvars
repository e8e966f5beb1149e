# tests/terraform/test_with_emulator.py applies terraform/ to a moto server on loopback with these values (and a
# provider override pointing every service at it). Each one switches off what the emulator lacks; README
# "Terraform" lists them. Never use this file against AWS.

# moto's Athena ListTagsForResource does not find the workgroup it just created, so the provider fails to read it back
enable_athena_workgroups = false

# moto starts an EMR Serverless application at once (state STARTED); the provider waits for CREATED and fails
enable_emr_serverless = false

# the emulator serves plain HTTP, and moto enforces bucket policies: TLS-only policies would deny every request
deny_insecure_transport = false

# throwaway buckets
force_destroy_buckets = true
