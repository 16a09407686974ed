//! Writing the autoencoder as an ONNX model, with no Python and no ONNX crate: the handful of `onnx.proto`
//! messages needed, declared with prost (field numbers from onnx.proto), and a graph of MatMul/Add/Tanh/Sigmoid
//! nodes. Contract: input `edges` float32 `[N, E]`, output `reconstruction` float32 `[N, E]`, opset 13.

use prost::Message;

use super::autoencoder::Autoencoder;

/// Input name of the contract.
pub const INPUT: &str = "edges";
/// Output name of the contract.
pub const OUTPUT: &str = "reconstruction";
/// Operator set the model declares.
pub const OPSET: i64 = 13;
/// ONNX IR version written (IR 8 is what opsets 13–17 ship with).
const IR_VERSION: i64 = 8;
/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(string, tag = "6")]
    doc_string: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    value: Option<DimensionValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum DimensionValue {
    #[prost(int64, tag = "1")]
    DimValue(i64),
    #[prost(string, tag = "2")]
    DimParam(String),
}

fn value_info(name: &str, edges: usize) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            value: Some(DimensionValue::DimParam("N".to_owned())),
                        },
                        Dimension {
                            value: Some(DimensionValue::DimValue(edges as i64)),
                        },
                    ],
                }),
            }),
        }),
    }
}

fn tensor(name: &str, data: &[f32], dims: &[usize]) -> TensorProto {
    let mut raw = Vec::with_capacity(data.len() * 4);
    for v in data {
        raw.extend_from_slice(&v.to_le_bytes());
    }
    TensorProto {
        dims: dims.iter().filter(|d| **d > 0).map(|d| *d as i64).collect(),
        data_type: FLOAT,
        name: name.to_owned(),
        raw_data: raw,
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.to_owned()],
        name: output.to_owned(),
        op_type: op.to_owned(),
    }
}

/// The autoencoder as a serialized ONNX `ModelProto`.
pub fn export(ae: &Autoencoder, doc: &str) -> Vec<u8> {
    let [w1, b1, w2, b2, w3, b3, w4, b4] = ae.dense_layers();
    let initializer = vec![
        tensor("W1", &w1.0, &w1.1),
        tensor("b1", &b1.0, &b1.1),
        tensor("W2", &w2.0, &w2.1),
        tensor("b2", &b2.0, &b2.1),
        tensor("W3", &w3.0, &w3.1),
        tensor("b3", &b3.0, &b3.1),
        tensor("W4", &w4.0, &w4.1),
        tensor("b4", &b4.0, &b4.1),
    ];
    let nodes = vec![
        node("MatMul", &[INPUT, "W1"], "m1"),
        node("Add", &["m1", "b1"], "a1"),
        node("Tanh", &["a1"], "h1"),
        node("MatMul", &["h1", "W2"], "m2"),
        node("Add", &["m2", "b2"], "a2"),
        node("Tanh", &["a2"], "z"),
        node("MatMul", &["z", "W3"], "m3"),
        node("Add", &["m3", "b3"], "a3"),
        node("Tanh", &["a3"], "h3"),
        node("MatMul", &["h3", "W4"], "m4"),
        node("Add", &["m4", "b4"], "a4"),
        node("Sigmoid", &["a4"], OUTPUT),
    ];
    let edges = ae.arch.edges;
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "spanguard".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        doc_string: doc.to_owned(),
        graph: Some(GraphProto {
            node: nodes,
            name: "microservice_aware_autoencoder".to_owned(),
            initializer,
            input: vec![value_info(INPUT, edges)],
            output: vec![value_info(OUTPUT, edges)],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    }
    .encode_to_vec()
}
