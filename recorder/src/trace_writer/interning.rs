//! Id allocation shared by every backend: the n-th path, function, variable name or type seen
//! gets id n, in both formats (runtime_tracing's ids are implicit in event order, CTFS's are
//! record indices of its interning tables).

use std::collections::HashMap;

pub enum Interned {
    Known(usize),
    New(usize),
}

fn intern<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) -> Interned {
    let next = map.len();
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => Interned::Known(*e.get()),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(next);
            Interned::New(next)
        }
    }
}

#[derive(Default)]
pub struct Interner {
    paths: HashMap<String, usize>,
    path_list: Vec<String>,
    functions: HashMap<(usize, i64, String), usize>,
    variables: HashMap<String, usize>,
    types: HashMap<String, usize>,
}

impl Interner {
    pub fn path(&mut self, path: &str) -> Interned {
        if let Some(&id) = self.paths.get(path) {
            return Interned::Known(id);
        }
        let found = intern(&mut self.paths, path.to_string());
        self.path_list.push(path.to_string());
        found
    }

    pub fn function(&mut self, path_id: usize, line: i64, name: &str) -> Interned {
        let key = (path_id, line, name.to_string());
        if let Some(&id) = self.functions.get(&key) {
            return Interned::Known(id);
        }
        intern(&mut self.functions, key)
    }

    pub fn variable(&mut self, name: &str) -> Interned {
        if let Some(&id) = self.variables.get(name) {
            return Interned::Known(id);
        }
        intern(&mut self.variables, name.to_string())
    }

    pub fn type_key(&mut self, key: &str) -> Interned {
        if let Some(&id) = self.types.get(key) {
            return Interned::Known(id);
        }
        intern(&mut self.types, key.to_string())
    }

    pub fn paths(&self) -> &[String] {
        &self.path_list
    }
}
