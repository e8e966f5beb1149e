from dagster import DynamicPartitionsDefinition

# One partition per landed file; keys come from transforms.naming.partition_key (safe characters only).
vcf_files_partitions = DynamicPartitionsDefinition(name="vcf_files")
clinvar_releases_partitions = DynamicPartitionsDefinition(name="clinvar_releases")
