'use strict';
// A CommonJS consumer, as most Nest 11 apps compile: `require()` of the ESM package works through
// Node's require(esm) (unflagged from Node 20.19 and 22.12).
require('reflect-metadata');
const common = require('@nestjs/common');
const core = require('@nestjs/core');
const lib = require('nestjs-tenant-cache');
const { describeSmoke } = require('../app/smoke-suite.cjs');

describeSmoke('CommonJS consumer: require("nestjs-tenant-cache") on Nest 11', {
  load: async () => ({ common, core, lib }),
  entry: () => require.resolve('nestjs-tenant-cache'),
});
