// The example requests of the vendors' documentation, unchanged.

/** Baseten's documentation: the body of its `POST /v1/training_projects/{training_project_id}/jobs`. */
export const basetenExample = {
  training_job: {
    image: {
      base_image: "hello-world",
      docker_auth: null,
    },
    compute: {
      node_count: 1,
      cpu_count: 1,
      memory: "2Gi",
      accelerator: {
        accelerator: "H100",
        count: 2,
      },
    },
    runtime: {
      start_commands: ["python main.py"],
      environment_variables: {
        API_KEY: "your_api_key_here",
        PATH: "/usr/bin",
      },
      artifacts: null,
      enable_cache: true,
      cache_config: {
        enable_legacy_hf_mount: true,
        enabled: true,
        mount_base_path: "/root/.cache",
        require_cache_affinity: true,
      },
      checkpointing_config: {
        enabled: true,
        checkpoint_path: "/mnt/ckpts",
        volume_size_gib: 10,
      },
      load_checkpoint_config: null,
    },
    name: "gpt-oss-job",
    truss_user_env: null,
    interactive_session: null,
    weights: [
      {
        allow_patterns: null,
        auth_secret_name: null,
        ignore_patterns: null,
        mount_location: "/app/models/base",
        source: "hf://meta-llama/Llama-3-8B@main",
      },
    ],
  },
};

/** TensorOne's documentation: the reference form of TensorOne's `POST /v2/training/jobs` body. */
export const tensorOneReferenceExample = {
  name: "<string>",
  description: "<string>",
  framework: "pytorch",
  modelConfig: {
    modelType: "language_model",
    baseModel: "<string>",
    customCode: "<string>",
  },
  datasetConfig: {
    datasetId: "<string>",
    datasetUrl: "<string>",
    format: "json",
  },
  hyperparameters: {
    learningRate: 0.001,
    batchSize: 32,
    epochs: 10,
    optimizer: "adam",
  },
  infrastructure: {
    gpuType: "rtx-4090",
    gpuCount: 1,
    memory: "32GB",
    storage: "100GB",
  },
};

/** TensorOne's documentation: "Fine-tune a Language Model". */
export const tensorOneLlmExample = {
  name: "llama-7b-finetune",
  modelType: "llm",
  datasetId: "ds_1234567890abcdef",
  config: {
    baseModel: "meta-llama/Llama-2-7b-hf",
    strategy: "lora",
    parameters: {
      rank: 16,
      alpha: 32,
      dropout: 0.1,
      target_modules: ["q_proj", "v_proj", "k_proj", "o_proj"],
    },
    training: {
      epochs: 3,
      batch_size: 4,
      learning_rate: 2e-4,
      weight_decay: 0.01,
      warmup_steps: 100,
      gradient_accumulation_steps: 8,
    },
    optimization: {
      mixed_precision: "fp16",
      gradient_checkpointing: true,
      max_grad_norm: 1.0,
    },
  },
  gpuType: "a100",
  maxWorkers: 2,
  priority: "high",
};

/** TensorOne's documentation: "Train a Custom Vision Model". */
export const tensorOneVisionExample = {
  name: "custom-object-detection",
  modelType: "vision",
  datasetId: "ds_vision_objects_001",
  config: {
    architecture: "yolov8",
    input_size: [640, 640],
    num_classes: 80,
    training: {
      epochs: 100,
      batch_size: 16,
      learning_rate: 0.01,
      momentum: 0.937,
      weight_decay: 0.0005,
    },
    augmentation: {
      mixup: 0.1,
      copy_paste: 0.5,
      hsv_h: 0.015,
      hsv_s: 0.7,
      hsv_v: 0.4,
    },
  },
  gpuType: "v100",
  maxWorkers: 4,
};

/** The custom training documentation: the body of `POST /api/v1/models/{model_id}/custom/train`. */
export const customTrainingExample = {
  entry_point: "train.py",
  runtime: "python3.11",
  environment_vars: {
    LEARNING_RATE: "0.001",
    EPOCHS: "50",
  },
  compute: {
    cpu_cores: 4,
    memory_gb: 16,
    gpu: false,
  },
  run_label: "custom-run-experiment-1",
  timeout_seconds: 14400,
};

/** Simplismart's documentation: the multipart form of its `POST /job/`, each field as the curl sends it. */
export const simplismartForm = {
  org: "0bf00b43-430a-4ca3-a8b3-b13cc8dc6d4f",
  experiment_name: "launch-simplismart-causal_lm-lora",
  dataset_config: `{
  "preprocessing": {
    "lazy_tokenize": true,
    "streaming": false,
    "prompt": {
      "system": null,
      "max_length": 4096,
      "template": null
    }
  },
  "split": {
    "type": "random",
    "ratios": [0.9, 0.1]
  }
}
`,
  model_details: `{
  "base_model": "meta-llama/Llama-3.2-1B-Instruct",
  "ownership": "public",
  "source_type": "hf",
  "model_type": "llm",
  "quantization": {
    "quant_bits": 4
  }
}
`,
  train_config: `{
  "type": "sft",
  "torch_dtype": "bfloat16",
  "task_type": "causal_lm",
  "train_type": "lora",
  "tuner_backend": "simplismart",
  "hyperparameters": {
    "num_epochs": 1,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "gradient_checkpointing": true,
    "save_steps": 500,
    "save_total_limit": 2,
    "eval_steps": 500,
    "logging_steps": 5,
    "learning_rate": 0.0001,
    "dataloader_num_workers": 1
  },
  "adapter_config": {
    "r": 16,
    "alpha": 16,
    "dropout": 0.1,
    "targets": ["all-linear"]
  },
  "distributed": {
    "type": "ddp"
  }
}
`,
  dataset_details: `{
  "dataset_name": "dataset-name",
  "dataset_path": "s3://training-dev-datasets/ds/sharegpt_ds_half.jsonl",
  "dataset_description": "",
  "dataset_type": "jsonl",
  "dataset_format": "sharegpt",
  "source_type": "s3",
  "ownership": "private",
  "secret_id": "<your-secret-key>",
  "region": "us-west-2"
}
`,
  infra_config: `{
  "gpu_type": "h100",
  "gpu_count": 2,
  "infra_type": "simplismart",
  "node_count": 2
}
`,
};
